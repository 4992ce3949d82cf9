/**
 * CPU time per thread of this process, from Linux's /proc/self/task/<tid>/schedstat (nanoseconds:
 * time on a CPU, time runnable but waiting for one). The engine's thread is the one whose id is the
 * process id. On another system (no /proc) readings are undefined and benchmarks leave the fields out.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ThreadTimes {
  /** The main (engine) thread: ns on a CPU, and ns runnable but waiting for a CPU. */
  mainRunNs: number;
  mainWaitNs: number;
  /** Every other thread of the process (V8's garbage-collector helpers, libuv's pool, workers). */
  otherRunNs: number;
}

export function threadTimes(): ThreadTimes | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return undefined;
  }
  const main = String(process.pid);
  const times: ThreadTimes = { mainRunNs: 0, mainWaitNs: 0, otherRunNs: 0 };
  for (const tid of tasks) {
    let fields: string[];
    try {
      fields = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ");
    } catch {
      continue; // the thread ended between the listing and the read
    }
    if (tid === main) {
      times.mainRunNs = Number(fields[0]);
      times.mainWaitNs = Number(fields[1]);
    } else times.otherRunNs += Number(fields[0]);
  }
  return times;
}

/** What ran between two readings; a thread that ended in between takes its time with it. */
export function threadTimesSince(before: ThreadTimes | undefined): ThreadTimes | undefined {
  const now = threadTimes();
  if (!before || !now) return undefined;
  return {
    mainRunNs: now.mainRunNs - before.mainRunNs,
    mainWaitNs: now.mainWaitNs - before.mainWaitNs,
    otherRunNs: Math.max(0, now.otherRunNs - before.otherRunNs),
  };
}
