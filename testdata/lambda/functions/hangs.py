# A function that runs past its timeout.
import time


def lambda_handler(event, context):
    time.sleep(30)
    return {"records": []}
