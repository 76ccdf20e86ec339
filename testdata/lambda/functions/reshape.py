# A typical Firehose transformation: parse each JSON record, reshape it, drop what is not
# needed, fail what is broken, and route by customer with partition keys.
import base64
import json


def lambda_handler(event, context):
    output = []
    for record in event["records"]:
        payload = json.loads(base64.b64decode(record["data"]))
        if payload.get("action") == "drop":
            output.append({"recordId": record["recordId"], "result": "Dropped"})
            continue
        if payload.get("action") == "fail":
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                           "data": record["data"]})
            continue
        reshaped = {
            "id": payload["id"],
            "customer": payload["customer"].lower(),
            "amount_cents": int(round(payload["amount"] * 100)),
            "source": "lambda",
        }
        output.append({
            "recordId": record["recordId"],
            "result": "Ok",
            "data": base64.b64encode((json.dumps(reshaped) + "\n").encode()).decode(),
            "metadata": {"partitionKeys": {"customer": reshaped["customer"]}},
        })
    return {"records": output}
