//! AWS Signature Version 4 verification (header form, as every SDK and the CLI send it).
//!
//! With no access keys configured every caller is accepted (the server says so at startup).
//! With keys configured:
//! * no `Authorization` header, or an access key id we do not know →
//!   `UnrecognizedClientException` (`The security token included in the request is invalid.`);
//! * a signature that does not match, or an `X-Amz-Date` more than 15 minutes off →
//!   `InvalidSignatureException`.
//!
//! The canonical request is rebuilt from the request exactly as received: method, path,
//! sorted query, the signed headers (values trimmed, inner spaces collapsed), and the body's
//! SHA-256 (or `X-Amz-Content-Sha256` when sent). Region and service come from the
//! credential scope, so any region name works.
//! Reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};
use chrono::{NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::errors::{FirehoseError, Result};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Largest accepted difference between `X-Amz-Date` and the server clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Access keys allowed to call the API.
#[derive(Clone, Default)]
pub struct Credentials {
    keys: HashMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// No keys: every caller is accepted.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Allow one more access key.
    #[must_use]
    pub fn with_key(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.keys
            .insert(access_key_id.into(), secret_access_key.into());
        self
    }

    /// Whether any key is configured (otherwise authentication is off).
    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Check a request's signature. `Ok` when authentication is off.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.verify_at(method, uri, headers, body, Utc::now().naive_utc())
    }

    fn verify_at(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: NaiveDateTime,
    ) -> Result<()> {
        let unrecognized = || FirehoseError::UnrecognizedClient {
            message: "The security token included in the request is invalid.".into(),
        };
        let header = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unrecognized)?;
        let auth = Authorization::parse(header).ok_or_else(|| FirehoseError::InvalidSignature {
            message: format!("Authorization header requires '{ALGORITHM}' with Credential, SignedHeaders and Signature parameters."),
        })?;
        let secret = self.keys.get(auth.access_key_id).ok_or_else(unrecognized)?;
        let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or_else(|| FirehoseError::InvalidSignature {
            message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
        })?;
        let signed_at =
            NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ").map_err(|_| {
                FirehoseError::InvalidSignature {
                    message: format!("Invalid X-Amz-Date: {amz_date}"),
                }
            })?;
        if (now - signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECS {
            return Err(FirehoseError::InvalidSignature {
                message: format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                    (now - chrono::Duration::seconds(MAX_CLOCK_SKEW_SECS)).format("%Y%m%dT%H%M%SZ"),
                    now.format("%Y%m%dT%H%M%SZ")
                ),
            });
        }
        let canonical = canonical_request(method, uri, headers, &auth.signed_headers, body);
        let scope = format!(
            "{}/{}/{}/aws4_request",
            auth.date, auth.region, auth.service
        );
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let key = signing_key(secret, auth.date, auth.region, auth.service);
        let expected = hmac(&key, string_to_sign.as_bytes());
        let given = hex::decode(auth.signature).unwrap_or_default();
        if !constant_time_eq(&expected, &given) {
            return Err(FirehoseError::InvalidSignature {
                message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key \
                          and signing method. Consult the service documentation for details."
                    .into(),
            });
        }
        Ok(())
    }
}

pub(crate) struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    pub(crate) fn parse(header: &'a str) -> Option<Self> {
        let rest = header.strip_prefix(ALGORITHM)?.trim_start();
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let mut scope = credential?.split('/');
        let access_key_id = scope.next()?;
        let date = scope.next()?;
        let region = scope.next()?;
        let service = scope.next()?;
        (scope.next()? == "aws4_request").then_some(())?;
        Some(Self {
            access_key_id,
            date,
            region,
            service,
            signed_headers: signed?.split(';').collect(),
            signature: signature?,
        })
    }
}

fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !encode_slash)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed: &[&str],
    body: &[u8],
) -> String {
    let path = uri.path();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(&percent_decode(path), false)
    };
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| hex::encode(Sha256::digest(body)), str::to_owned);
    format!(
        "{method}\n{path}\n{query}\n{canonical_headers}\n{}\n{payload_hash}",
        signed.join(";")
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sign a request the way the SDKs do (used by tests and by clients built on this crate).
/// Adds `X-Amz-Date` and `Authorization` to `headers`; signs `host`, `x-amz-date` and every
/// `x-amz-*` and `content-type` header present.
pub fn sign(
    headers: &mut HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    key: (&str, &str),
    region: &str,
    now: NaiveDateTime,
) {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    if let Ok(v) = amz_date.parse() {
        headers.insert("x-amz-date", v);
    }
    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k == "host" || k == "content-type" || k.starts_with("x-amz-"))
        .collect();
    signed.sort();
    signed.dedup();
    let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
    let canonical = canonical_request(method, uri, headers, &signed_refs, body);
    let scope = format!("{date}/{region}/firehose/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature = hex::encode(hmac(
        &signing_key(key.1, &date, region, "firehose"),
        string_to_sign.as_bytes(),
    ));
    let value = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        key.0,
        signed.join(";")
    );
    if let Ok(v) = value.parse() {
        headers.insert("authorization", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> (Method, Uri, HeaderMap, Vec<u8>) {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:4573".parse().expect("header"));
        headers.insert(
            "content-type",
            "application/x-amz-json-1.1".parse().expect("header"),
        );
        headers.insert(
            "x-amz-target",
            "Firehose_20150804.ListDeliveryStreams"
                .parse()
                .expect("header"),
        );
        (
            Method::POST,
            "/".parse().expect("uri"),
            headers,
            b"{}".to_vec(),
        )
    }

    fn now() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("20260101T120000Z", "%Y%m%dT%H%M%SZ").expect("date")
    }

    #[test]
    fn aws_documented_signing_key() {
        // From the AWS SigV4 documentation's worked example.
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn accepts_good_and_rejects_bad_signatures() {
        let creds = Credentials::anonymous().with_key("AKIDEXAMPLE", "secret");
        let (m, u, mut h, b) = request();
        sign(
            &mut h,
            &m,
            &u,
            &b,
            ("AKIDEXAMPLE", "secret"),
            "us-east-1",
            now(),
        );
        creds
            .verify_at(&m, &u, &h, &b, now())
            .expect("good signature");

        let err = creds
            .verify_at(&m, &u, &h, b"{\"x\":1}", now())
            .expect_err("tampered body");
        assert_eq!(err.error_type(), "InvalidSignatureException");

        let (m, u, mut h, b) = request();
        sign(
            &mut h,
            &m,
            &u,
            &b,
            ("AKIDEXAMPLE", "wrong"),
            "us-east-1",
            now(),
        );
        assert_eq!(
            creds
                .verify_at(&m, &u, &h, &b, now())
                .expect_err("wrong secret")
                .error_type(),
            "InvalidSignatureException"
        );

        let (m, u, mut h, b) = request();
        sign(
            &mut h,
            &m,
            &u,
            &b,
            ("UNKNOWN", "secret"),
            "us-east-1",
            now(),
        );
        assert_eq!(
            creds
                .verify_at(&m, &u, &h, &b, now())
                .expect_err("unknown key")
                .error_type(),
            "UnrecognizedClientException"
        );

        let (m, u, h, b) = request();
        assert_eq!(
            creds
                .verify_at(&m, &u, &h, &b, now())
                .expect_err("unsigned")
                .error_type(),
            "UnrecognizedClientException"
        );
    }

    #[test]
    fn stale_requests_are_rejected() {
        let creds = Credentials::anonymous().with_key("AKIDEXAMPLE", "secret");
        let (m, u, mut h, b) = request();
        sign(
            &mut h,
            &m,
            &u,
            &b,
            ("AKIDEXAMPLE", "secret"),
            "us-east-1",
            now(),
        );
        let later = now() + chrono::Duration::minutes(16);
        let err = creds.verify_at(&m, &u, &h, &b, later).expect_err("expired");
        assert!(err.to_string().starts_with("Signature expired"), "{err}");
    }

    #[test]
    fn no_keys_accepts_anyone() {
        let (m, u, h, b) = request();
        Credentials::anonymous()
            .verify(&m, &u, &h, &b)
            .expect("open");
    }
}
