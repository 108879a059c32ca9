"""Carry moto's SQS and SNS state across `scripts/brokers restart aws`.

    aws-state.py save FILE   before stopping: queues (attributes, tags, visible messages), SNS topics
                             (attributes, tags) and subscriptions, written as JSON
    aws-state.py load FILE   after starting: creates them all again, then deletes FILE

moto keeps everything in memory, so without this a restart would lose every queue a test made.
What does not survive: messages that were in flight (received, not yet deleted), message ids and
receive counts (messages are sent again), and subscription ARNs (subscriptions are made again).
Runs with the moto virtualenv's Python, which has boto3. The endpoint is OMNIBUS_AWS_ENDPOINT.
"""

import json
import os
import sys

import boto3

ENDPOINT = os.environ.get("OMNIBUS_AWS_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_REGION", "us-east-1")
# Attributes that SQS computes and refuses to be given.
READ_ONLY_QUEUE_ATTRIBUTES = {
    "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
}
# Given after every queue exists, because they name other queues by ARN.
LINKING_QUEUE_ATTRIBUTES = {"RedrivePolicy", "RedriveAllowPolicy"}
SETTABLE_SUBSCRIPTION_ATTRIBUTES = {
    "DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
    "SubscriptionRoleArn",
}


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def save_queue(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    messages = []
    while True:
        # The server stops right after this, so hiding the messages for a minute loses nothing.
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                    WaitTimeSeconds=0, AttributeNames=["All"],
                                    MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        for message in batch:
            messages.append({
                "body": message["Body"],
                "messageAttributes": message.get("MessageAttributes", {}),
                "groupId": message.get("Attributes", {}).get("MessageGroupId"),
                "deduplicationId": message.get("Attributes", {}).get("MessageDeduplicationId"),
            })
    return {"name": url.rsplit("/", 1)[-1], "attributes": attributes, "tags": tags, "messages": messages}


def save(path):
    sqs, sns = client("sqs"), client("sns")
    queues = [save_queue(sqs, url)
              for page in sqs.get_paginator("list_queues").paginate()
              for url in page.get("QueueUrls", [])]
    topics = []
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            arn = topic["TopicArn"]
            topics.append({
                "name": arn.rsplit(":", 1)[-1],
                "arn": arn,
                "attributes": sns.get_topic_attributes(TopicArn=arn)["Attributes"],
                "tags": sns.list_tags_for_resource(ResourceArn=arn).get("Tags", []),
            })
    subscriptions = []
    for page in sns.get_paginator("list_subscriptions").paginate():
        for subscription in page["Subscriptions"]:
            attributes = sns.get_subscription_attributes(
                SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
            subscriptions.append({
                "topicArn": subscription["TopicArn"],
                "protocol": subscription["Protocol"],
                "endpoint": subscription["Endpoint"],
                "attributes": {k: v for k, v in attributes.items() if k in SETTABLE_SUBSCRIPTION_ATTRIBUTES},
            })
    with open(path + ".tmp", "w") as file:
        json.dump({"queues": queues, "topics": topics, "subscriptions": subscriptions}, file)
    os.replace(path + ".tmp", path)
    print("aws-state: saved %d queues (%d messages), %d topics, %d subscriptions"
          % (len(queues), sum(len(q["messages"]) for q in queues), len(topics), len(subscriptions)))


def load(path):
    if not os.path.exists(path):
        return
    with open(path) as file:
        state = json.load(file)
    sqs, sns = client("sqs"), client("sns")
    urls = {}
    for queue in state["queues"]:
        attributes = {k: v for k, v in queue["attributes"].items()
                      if k not in READ_ONLY_QUEUE_ATTRIBUTES | LINKING_QUEUE_ATTRIBUTES}
        urls[queue["name"]] = sqs.create_queue(QueueName=queue["name"], Attributes=attributes,
                                               tags=queue["tags"])["QueueUrl"]
    for queue in state["queues"]:
        linking = {k: v for k, v in queue["attributes"].items() if k in LINKING_QUEUE_ATTRIBUTES}
        if linking:
            sqs.set_queue_attributes(QueueUrl=urls[queue["name"]], Attributes=linking)
        for message in queue["messages"]:
            extra = {}
            if message["groupId"]:
                extra["MessageGroupId"] = message["groupId"]
            if message["deduplicationId"]:
                extra["MessageDeduplicationId"] = message["deduplicationId"]
            if message["messageAttributes"]:
                extra["MessageAttributes"] = message["messageAttributes"]
            sqs.send_message(QueueUrl=urls[queue["name"]], MessageBody=message["body"], **extra)
    for topic in state["topics"]:
        attributes = {k: v for k, v in topic["attributes"].items()
                      if k in ("FifoTopic", "ContentBasedDeduplication", "DisplayName", "Policy",
                               "DeliveryPolicy", "KmsMasterKeyId")}
        arguments = {"Name": topic["name"], "Attributes": attributes}
        if topic["tags"]:
            arguments["Tags"] = topic["tags"]
        sns.create_topic(**arguments)
    for subscription in state["subscriptions"]:
        sns.subscribe(TopicArn=subscription["topicArn"], Protocol=subscription["protocol"],
                      Endpoint=subscription["endpoint"], Attributes=subscription["attributes"],
                      ReturnSubscriptionArn=True)
    os.remove(path)
    print("aws-state: restored %d queues, %d topics, %d subscriptions"
          % (len(state["queues"]), len(state["topics"]), len(state["subscriptions"])))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "load"):
        sys.stderr.write("usage: aws-state.py save|load FILE\n")
        sys.exit(2)
    (save if sys.argv[1] == "save" else load)(sys.argv[2])
