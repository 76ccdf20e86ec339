# A function that returns something other than Firehose's status model.
def lambda_handler(event, context):
    return "processed %d records" % len(event["records"])
