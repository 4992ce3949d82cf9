#!/usr/bin/env python3
"""A Dirigent worker in Python, standard library only: proof that a worker needs nothing but HTTP.

    python3 worker.py --url http://127.0.0.1:7070 --queue shipping [--max-tasks N] [--fail-first]

It long-polls the queue, "makes a shipping label" for each task (the result echoes the input and the
idempotency key), heartbeats while it works, and completes the task. With --fail-first it fails the
first attempt of every task (retryable), to show retries. It stops after --max-tasks tasks, or on
SIGTERM/SIGINT. It prints one JSON line per event on stdout so a test can follow it.
"""
import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

stopping = threading.Event()


def call(base, path, body):
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        f"{base}/api/v1{path}", data=data, method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=70) as res:
            text = res.read().decode()
            return res.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, (json.loads(text) if text else None)


def say(**event):
    print(json.dumps(event), flush=True)


def heartbeat_while(base, task, done):
    """Extend the lease every third of the heartbeat timeout until the work is done."""
    timeout_ms = task.get("heartbeatTimeoutMs")
    if not timeout_ms:
        return
    path = f"/tasks/{urllib.parse.quote(task['taskId'], safe='')}/heartbeat"
    while not done.wait(timeout_ms / 3000):
        status, body = call(base, path, {"leaseToken": task["leaseToken"]})
        say(event="heartbeat", taskId=task["taskId"], status=status, cancelRequested=(body or {}).get("cancelRequested"))


def work(task):
    time.sleep(float((task.get("input") or {}).get("workSeconds", 0)))
    return {"label": f"LBL-{task['input'].get('orderId', '?')}", "key": task["idempotencyKey"], "by": "python"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--worker-id", default="python-worker")
    parser.add_argument("--max-tasks", type=int, default=0)
    parser.add_argument("--fail-first", action="store_true")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    say(event="ready", workerId=args.worker_id, queue=args.queue)
    handled = 0
    poll_path = f"/queues/{urllib.parse.quote(args.queue, safe='')}/poll"
    while not stopping.is_set() and (args.max_tasks == 0 or handled < args.max_tasks):
        try:
            status, body = call(base, poll_path, {"workerId": args.worker_id, "maxTasks": 1, "waitMs": 1000})
        except OSError as err:
            say(event="error", error=str(err))
            time.sleep(0.5)
            continue
        if status != 200:
            say(event="error", status=status, body=body)
            time.sleep(0.5)
            continue
        for task in body["tasks"]:
            say(event="leased", taskId=task["taskId"], attempt=task["attempt"])
            path = f"/tasks/{urllib.parse.quote(task['taskId'], safe='')}"
            done = threading.Event()
            beat = threading.Thread(target=heartbeat_while, args=(base, task, done), daemon=True)
            beat.start()
            try:
                if args.fail_first and task["attempt"] == 1:
                    raise RuntimeError("first attempt fails on purpose")
                result = work(task)
                status, _ = call(base, f"{path}/complete", {"leaseToken": task["leaseToken"], "result": result})
                say(event="completed", taskId=task["taskId"], status=status)
            except Exception as err:  # report the failure; the engine decides about retrying
                status, body = call(
                    base, f"{path}/fail", {"leaseToken": task["leaseToken"], "error": {"message": str(err)}}
                )
                say(event="failed", taskId=task["taskId"], status=status, willRetry=(body or {}).get("willRetry"))
            finally:
                done.set()
            handled += 1
    say(event="stopped", handled=handled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
