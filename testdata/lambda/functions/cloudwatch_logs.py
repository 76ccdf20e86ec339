# For streams fed by a CloudWatch Logs subscription with message extraction: each record holds
# log lines (one message per line); keep the JSON ones, tag them with the level as a partition
# key, drop control messages (empty records).
import base64
import json


def lambda_handler(event, context):
    out = []
    for record in event["records"]:
        text = base64.b64decode(record["data"]).decode()
        lines = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
        if not lines:
            out.append({"recordId": record["recordId"], "result": "Dropped"})
            continue
        body = "".join(json.dumps(l) + "\n" for l in lines)
        out.append({"recordId": record["recordId"], "result": "Ok",
                    "data": base64.b64encode(body.encode()).decode(),
                    "metadata": {"partitionKeys": {"level": lines[0].get("level", "none")}}})
    return {"records": out}
