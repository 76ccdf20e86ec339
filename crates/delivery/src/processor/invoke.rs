//! Calling the function: AWS Lambda's `Invoke` API (`POST /2015-03-31/functions/<fn>/invocations`,
//! `RequestResponse`, SigV4 with signing name `lambda`) through the official SDK, with
//! Firehose's retry rule: invocation and function errors are retried `NumberOfRetries` times;
//! a returned response is applied as it is (`lambda.rs`).
//!
//! The endpoint is found the way AWS SDKs find it (PROCESSORS.md §1.4), first match wins:
//! `AWS_ENDPOINT_URL_LAMBDA`, `AWS_ENDPOINT_URL` (both ignored when
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), then [`LambdaOptions::endpoint_url`] (the
//! serve configuration), then the regional endpoint of the region in the function's ARN.
//! Credentials are the standard environment variables `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use crate::metrics::Counters;
use crate::settings::LambdaSettings;

use super::lambda::{
    Event, FUNCTION_ERROR, INVOKE_ACCESS_DENIED, INVOKE_LIMIT_EXCEEDED, LAMBDA_TIMEOUT,
    LAMBDA_UNREACHABLE, MSG_ACCESS_DENIED, MSG_FUNCTION_ERROR, MSG_NOT_FOUND, MSG_THROTTLED,
    MSG_TIMEOUT, Outcome, RESOURCE_NOT_FOUND, Tally,
};

/// Default number of invocations of one stream in flight at once.
pub const DEFAULT_MAX_CONCURRENT_INVOCATIONS: usize = 4;
/// Default time one invocation may take: Firehose's 5-minute function limit, plus margin.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(310);
/// Default wait before the first retry (doubling, at most [`MAX_RETRY_BACKOFF`]).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between two attempts.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// How a stream's `Lambda` processor reaches its function: settings of the installation
/// (`sluice serve`'s `lambda:` section), not of the stream.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LambdaOptions {
    /// Endpoint used when neither `AWS_ENDPOINT_URL_LAMBDA` nor `AWS_ENDPOINT_URL` is set,
    /// e.g. `http://localhost:4566` (LocalStack). `None`: the regional AWS endpoint.
    pub endpoint_url: Option<String>,
    /// Invocations of one stream in flight at once; more records wait, then puts are refused.
    pub max_concurrent_invocations: usize,
    /// How long one invocation may take before it counts as a (retried) timeout.
    pub invoke_timeout: Duration,
    /// Wait before the first retry; doubles per attempt up to [`MAX_RETRY_BACKOFF`].
    pub retry_backoff: Duration,
    /// Sign with this access key id and secret instead of the environment's (embedding and
    /// tests; `sluice serve` reads the environment).
    pub static_credentials: Option<(String, String)>,
}

impl std::fmt::Debug for LambdaOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaOptions")
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "max_concurrent_invocations",
                &self.max_concurrent_invocations,
            )
            .field("invoke_timeout", &self.invoke_timeout)
            .field("retry_backoff", &self.retry_backoff)
            .field(
                "static_credentials",
                &self.static_credentials.as_ref().map(|(id, _)| (id, "…")),
            )
            .finish()
    }
}

impl Default for LambdaOptions {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            max_concurrent_invocations: DEFAULT_MAX_CONCURRENT_INVOCATIONS,
            invoke_timeout: DEFAULT_INVOKE_TIMEOUT,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            static_credentials: None,
        }
    }
}

impl LambdaOptions {
    /// Set the fallback endpoint.
    #[must_use]
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }
    /// Set the concurrency (at least 1).
    #[must_use]
    pub fn with_max_concurrent_invocations(mut self, n: usize) -> Self {
        self.max_concurrent_invocations = n.max(1);
        self
    }
    /// Set the invoke timeout.
    #[must_use]
    pub fn with_invoke_timeout(mut self, d: Duration) -> Self {
        self.invoke_timeout = d;
        self
    }
    /// Sign with these credentials instead of the environment's.
    #[must_use]
    pub fn with_static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.static_credentials = Some((access_key_id.into(), secret_access_key.into()));
        self
    }
    /// Set the first retry wait.
    #[must_use]
    pub fn with_retry_backoff(mut self, d: Duration) -> Self {
        self.retry_backoff = d;
        self
    }
}

/// The endpoint to call, by the SDK convention (`None`: the SDK's regional endpoint).
pub(crate) fn resolve_endpoint(
    env: impl Fn(&str) -> Option<String>,
    configured: Option<&str>,
) -> Option<String> {
    let ignore =
        env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let from_env = |k: &str| env(k).filter(|v| !v.is_empty());
    if !ignore
        && let Some(url) =
            from_env("AWS_ENDPOINT_URL_LAMBDA").or_else(|| from_env("AWS_ENDPOINT_URL"))
    {
        return Some(url);
    }
    configured.filter(|v| !v.is_empty()).map(str::to_owned)
}

/// Invocation results, for the counters (`sluice_lambda_invocations_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvokeResult {
    FunctionError,
    Throttled,
    Timeout,
    AccessDenied,
    NotFound,
    Other,
}

/// A failed attempt: its code and message, and whether another attempt may help.
struct AttemptError {
    result: InvokeResult,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    retry: bool,
}

/// One stream's connection to its function.
#[derive(Debug)]
pub(crate) struct LambdaRuntime {
    pub(crate) settings: LambdaSettings,
    pub(crate) options: LambdaOptions,
    pub(crate) stream_arn: String,
    /// `None` when no credentials are configured: every attempt fails, clearly.
    client: Option<aws_sdk_lambda::Client>,
    counters: Arc<Counters>,
}

impl LambdaRuntime {
    pub(crate) fn new(
        settings: LambdaSettings,
        options: LambdaOptions,
        stream_arn: String,
        counters: Arc<Counters>,
    ) -> Self {
        let env = |k: &str| std::env::var(k).ok();
        let endpoint = resolve_endpoint(env, options.endpoint_url.as_deref());
        let credentials = match (
            &options.static_credentials,
            env("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some((id, secret)), _, _) => Some(Credentials::new(id, secret, None, None, "static")),
            (None, Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                Some(Credentials::new(
                    id,
                    secret,
                    env("AWS_SESSION_TOKEN").filter(|t| !t.is_empty()),
                    None,
                    "environment",
                ))
            }
            _ => None,
        };
        if credentials.is_none() {
            tracing::error!(function = %settings.arn, "no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): every invocation of the Lambda processor will fail");
        }
        let client = credentials.map(|credentials| {
            let mut config = aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(settings.region.clone()))
                .credentials_provider(credentials)
                .retry_config(RetryConfig::disabled())
                .timeout_config(
                    TimeoutConfig::builder()
                        .operation_timeout(options.invoke_timeout)
                        .connect_timeout(Duration::from_secs(10).min(options.invoke_timeout))
                        .build(),
                );
            if let Some(url) = &endpoint {
                config = config.endpoint_url(url);
            }
            aws_sdk_lambda::Client::from_conf(config.build())
        });
        Self {
            settings,
            options,
            stream_arn,
            client,
            counters,
        }
    }

    /// Run one batch to its outcomes: attempts until a response is returned or the retries
    /// are used up.
    pub(crate) async fn process(&self, event: &Event) -> (Vec<Outcome>, Tally) {
        let mut tally = Tally::default();
        let mut backoff = self.options.retry_backoff;
        let max_attempts = self.settings.retries.saturating_add(1);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let started = Instant::now();
            let attempt = self.attempt(event).await;
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let c = &self.counters;
            Counters::add(&c.lambda_invocation_millis, elapsed);
            let error = match attempt {
                Ok(payload) => {
                    Counters::add(&c.lambda_invocations_success, 1);
                    let outcomes = event.outcomes(&payload, attempts, &mut tally);
                    return (outcomes, tally);
                }
                Err(e) => e,
            };
            let counter = match error.result {
                InvokeResult::FunctionError => &c.lambda_invocations_function_error,
                InvokeResult::Throttled => &c.lambda_invocations_throttled,
                InvokeResult::Timeout => &c.lambda_invocations_timeout,
                InvokeResult::AccessDenied => &c.lambda_invocations_access_denied,
                InvokeResult::NotFound => &c.lambda_invocations_not_found,
                InvokeResult::Other => &c.lambda_invocations_other,
            };
            Counters::add(counter, 1);
            if error.retry && attempts < max_attempts {
                tracing::warn!(function = %self.settings.arn, code = %error.code, message = %error.message, attempt = attempts, retry_in = ?backoff, "Lambda invocation failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
                continue;
            }
            tracing::warn!(function = %self.settings.arn, code = %error.code, message = %error.message, attempts, records = event.len(), "Lambda invocation failed for good; the batch goes to the error output");
            tally.invocation_failed += event.len() as u64;
            let outcomes = (0..event.len())
                .map(|_| Outcome::failed(error.code.clone(), error.message.clone(), attempts))
                .collect();
            return (outcomes, tally);
        }
    }

    /// One `Invoke` call: the payload of a response without a function error.
    async fn attempt(&self, event: &Event) -> Result<Vec<u8>, AttemptError> {
        let Some(client) = &self.client else {
            return Err(AttemptError {
                result: InvokeResult::AccessDenied,
                code: INVOKE_ACCESS_DENIED.into(),
                message: "Sluice has no AWS credentials to sign the Invoke call with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
                retry: true,
            });
        };
        let sent = client
            .invoke()
            .function_name(&self.settings.arn)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(event.payload()))
            .send()
            .await;
        match sent {
            Ok(out) => {
                if out.function_error().is_some_and(|e| !e.is_empty()) {
                    let detail = out
                        .payload()
                        .map(|p| {
                            String::from_utf8_lossy(&p.as_ref()[..p.as_ref().len().min(512)])
                                .into_owned()
                        })
                        .unwrap_or_default();
                    tracing::debug!(function = %self.settings.arn, kind = ?out.function_error(), detail, "the function returned an error");
                    return Err(AttemptError {
                        result: InvokeResult::FunctionError,
                        code: FUNCTION_ERROR.into(),
                        message: MSG_FUNCTION_ERROR.into(),
                        retry: true,
                    });
                }
                Ok(out.payload.map(Blob::into_inner).unwrap_or_default())
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
) -> AttemptError {
    let error = |result, code: Cow<'static, str>, message: Cow<'static, str>, retry| AttemptError {
        result,
        code,
        message,
        retry,
    };
    match e {
        SdkError::TimeoutError(_) => error(
            InvokeResult::Timeout,
            LAMBDA_TIMEOUT.into(),
            MSG_TIMEOUT.into(),
            true,
        ),
        SdkError::DispatchFailure(d) if d.is_timeout() => error(
            InvokeResult::Timeout,
            LAMBDA_TIMEOUT.into(),
            MSG_TIMEOUT.into(),
            true,
        ),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => error(
            InvokeResult::Other,
            LAMBDA_UNREACHABLE.into(),
            format!(
                "The Lambda endpoint could not be called: {}",
                aws_sdk_lambda::error::DisplayErrorContext(e)
            )
            .into(),
            true,
        ),
        _ => {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            let code = e
                .as_service_error()
                .and_then(ProvideErrorMetadata::code)
                .unwrap_or("");
            let message = e
                .as_service_error()
                .and_then(ProvideErrorMetadata::message)
                .unwrap_or("")
                .to_owned();
            match status {
                429 => error(
                    InvokeResult::Throttled,
                    INVOKE_LIMIT_EXCEEDED.into(),
                    MSG_THROTTLED.into(),
                    true,
                ),
                403 => error(
                    InvokeResult::AccessDenied,
                    INVOKE_ACCESS_DENIED.into(),
                    MSG_ACCESS_DENIED.into(),
                    true,
                ),
                404 => error(
                    InvokeResult::NotFound,
                    RESOURCE_NOT_FOUND.into(),
                    MSG_NOT_FOUND.into(),
                    true,
                ),
                _ => {
                    let code = if code.is_empty() {
                        format!("Lambda.HTTP{status}")
                    } else {
                        format!("Lambda.{code}")
                    };
                    let message = if message.is_empty() {
                        format!("The Lambda Invoke call failed with HTTP status {status}")
                    } else {
                        message
                    };
                    // Server-side trouble may pass; a request Lambda refuses (400, 413, 415)
                    // would be refused again.
                    let retry = status >= 500 || status == 0;
                    error(InvokeResult::Other, code.into(), message.into(), retry)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_order_follows_the_sdk_convention() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let cfg = Some("http://config");
        assert_eq!(resolve_endpoint(env(&[]), None), None);
        assert_eq!(
            resolve_endpoint(env(&[]), cfg).as_deref(),
            Some("http://config")
        );
        assert_eq!(
            resolve_endpoint(env(&[("AWS_ENDPOINT_URL", "http://all")]), cfg).as_deref(),
            Some("http://all")
        );
        assert_eq!(
            resolve_endpoint(
                env(&[
                    ("AWS_ENDPOINT_URL", "http://all"),
                    ("AWS_ENDPOINT_URL_LAMBDA", "http://lambda")
                ]),
                cfg
            )
            .as_deref(),
            Some("http://lambda")
        );
        assert_eq!(
            resolve_endpoint(
                env(&[
                    ("AWS_ENDPOINT_URL_LAMBDA", "http://lambda"),
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
                ]),
                cfg
            )
            .as_deref(),
            Some("http://config")
        );
        assert_eq!(
            resolve_endpoint(env(&[("AWS_ENDPOINT_URL_LAMBDA", "")]), None),
            None
        );
    }
}
