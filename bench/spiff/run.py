"""Runs the five-step dossier process (dossier.bpmn) on SpiffWorkflow for a fixed time and
prints how many whole lifecycles per second it completed, as JSON.

Each lifecycle starts a workflow and completes its five user tasks one at a time, as five
officials would. With --persist, the workflow's serialized state is written to SQLite after
the start and after every task, each write committed on its own (WAL, synchronous=FULL: the
same durability motcua's numbers are taken with). One process per core, each with its own
database file, so that the Python engine can use every core."""

import argparse
import json
import multiprocessing
import os
import sqlite3
import tempfile
import time
import uuid

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(args):
    seconds, persist, folder, index = args
    parser = BpmnParser()
    parser.add_bpmn_file(os.path.join(HERE, "dossier.bpmn"))
    spec = parser.get_spec("dossier")
    serializer = BpmnWorkflowSerializer()
    db = None
    if persist:
        db = sqlite3.connect(os.path.join(folder, f"spiff-{index}.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS workflows (id TEXT PRIMARY KEY, state TEXT NOT NULL)")

    def save(wid, wf, first):
        state = serializer.serialize_json(wf)
        if db is None:
            return
        db.execute("BEGIN")
        if first:
            db.execute("INSERT INTO workflows (id, state) VALUES (?, ?)", (wid, state))
        else:
            db.execute("UPDATE workflows SET state = ? WHERE id = ?", (state, wid))
        db.execute("COMMIT")

    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wid = str(uuid.uuid4())
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        save(wid, wf, True)
        steps = 0
        while not wf.is_completed():
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data["official"] = f"official-{steps}"
            task.run()
            wf.do_engine_steps()
            save(wid, wf, False)
            steps += 1
        if steps != 5:
            raise SystemExit(f"the process had {steps} tasks, not 5")
        done += 1
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--persist", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.monotonic()
        with multiprocessing.Pool(a.processes) as pool:
            counts = pool.map(worker, [(a.seconds, a.persist, folder, i) for i in range(a.processes)])
        elapsed = time.monotonic() - start
    import SpiffWorkflow
    version = getattr(SpiffWorkflow, "__version__", None)
    if version is None:
        from importlib.metadata import version as v
        version = v("SpiffWorkflow")
    print(json.dumps({
        "lifecycles": sum(counts),
        "seconds": elapsed,
        "per_second": sum(counts) / a.seconds,
        "processes": a.processes,
        "persist": a.persist,
        "version": version,
    }))


if __name__ == "__main__":
    main()
