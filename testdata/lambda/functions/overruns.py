# A function that runs longer than its configured timeout (the test server gives it 0.5 s).
import time


def lambda_handler(event, context):
    time.sleep(5)
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]}
                        for r in event["records"]]}
