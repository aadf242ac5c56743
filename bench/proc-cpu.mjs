// CPU time of processes as Linux accounts it (/proc/<pid>/stat), for benchmarks that say which
// process a run's work went to.
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name: index 0 is field 3 (state). */
function statFields(pid) {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
}

/** CPU time (user + system, every thread) a process used so far, in seconds. */
export function cpuSeconds(pid) {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15, in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU time of a process and of its children, living or exited (a PostgreSQL server: the
 * postmaster, its backends, WAL writer, checkpointer...), in seconds.
 */
export function treeCpuSeconds(pid) {
  const own = statFields(pid);
  // cutime and cstime (fields 16 and 17): the children it has waited for.
  let total = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) / 100;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = statFields(name);
      // ppid is field 4.
      if (Number(fields[1]) === pid) total += cpuSeconds(name);
    } catch {
      // Exited meanwhile: its time is in the parent's cutime next time.
    }
  }
  return total;
}

/** Time a process's threads spent runnable but waiting for a core (schedstat), in seconds. */
export function runQueueWaitSeconds(pid) {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ns / 1e9;
}

/** {@link runQueueWaitSeconds} of a process and its living children. */
export function treeRunQueueWaitSeconds(pid) {
  let total = runQueueWaitSeconds(pid);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(name)[1]) === pid) total += runQueueWaitSeconds(name);
    } catch {
      // Exited meanwhile.
    }
  }
  return total;
}
