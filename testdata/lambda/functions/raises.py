# A function with a bug: every invocation raises (Lambda answers X-Amz-Function-Error: Unhandled).
def lambda_handler(event, context):
    raise KeyError("customer")
