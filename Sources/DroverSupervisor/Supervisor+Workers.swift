import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Process verbs: spawn, read, reap, murder, retire, and the settling of a dead worker's jobs.
extension Supervisor {
  /// Starts one worker for `pool`: a socketpair, the executable again as `drover worker` with
  /// the child's end on fd 3, and a pidfd to learn of its exit.
  func spawn(_ pool: PoolState) {
    let c = pool.config
    var args = [
      "worker", "--pool", c.name, "--handler", c.handler, "--concurrency", String(c.concurrency),
      "--heartbeat-ms", String(options.heartbeatInterval.milliseconds),
      // Idle workers beat a third of the hung limit apart (two may be late before one is
      // judged hung): an idle supervisor's wake-ups are mostly heartbeats, so with many pools
      // this is most of its CPU.
      "--idle-heartbeat-ms",
      String(max(options.heartbeatInterval, options.heartbeatTimeout / 3).milliseconds),
      // The worker logs (handlers' `context.logger`, exec output) at the supervisor's level.
      "--log-level", logger.logLevel.rawValue,
    ]
    // `--arg=VALUE`: a value starting with a dash ("-c") must not read as an option.
    for a in c.command { args.append("--arg=" + a) }
    let now = clock.monotonic()
    do {
      let (mine, theirs) = try SocketPair.make()
      let pid: Int32
      do {
        // Workers must not talk to systemd as if they were the main process.
        pid = try ProcessSpawner.spawn(
          executable: options.workerExecutable, arguments: args, argv0: "drover",
          environment: .inheritWith(overrides: [:], removing: SystemdNotifier.environmentKeys),
          childFD: theirs,
          // Its own process group: a terminal's Ctrl-C reaches only the supervisor (which
          // drains), and a dead worker's leftovers (exec commands) can be killed as a group.
          processGroup: .newGroup)
      } catch {
        FD.close(mine)
        FD.close(theirs)
        throw error
      }
      FD.close(theirs)
      try FD.setNonBlocking(mine)
      let pidfd = try PidFD.open(pid)
      let w = WorkerHandle(
        pid: pid, fd: mine, pidfd: pidfd, pool: c.name, concurrency: c.concurrency, now: now,
        recycleAfter: PoolPolicy.recycleAfter(maxJobs: c.maxJobs, jitter: options.jitter()))
      pool.workers.append(w)
      workersByFD[mine] = w
      register(mine, .worker(w))
      register(pidfd, .workerPidFD(w))
      log(.info, "spawned worker", ["pool": "\(c.name)", "worker_pid": "\(pid)"])
      pendingEvents.append(LifecycleEvent(at: clock.wall(), .workerSpawned(pool: c.name, pid: pid)))
    } catch  where Self.isResourceShortage(error) {
      // Out of descriptors or processes: the supervisor's trouble, not the pool's. No crash
      // loop; try again in a second.
      log(.error, "cannot spawn a worker, retrying in 1s: \(error)", ["pool": "\(c.name)"])
      pool.restartNotBefore = now + .seconds(1)
    } catch {
      log(.error, "cannot spawn a worker: \(error)", ["pool": "\(c.name)"])
      noteEarlyDeath(pool, bootFailure: true, cannotBoot: true, now: now)
    }
  }

  /// EMFILE, ENFILE, EAGAIN (process limit) and ENOMEM: a spawn failed for want of resources.
  static func isResourceShortage(_ error: any Error) -> Bool {
    guard let e = error as? SystemError else { return false }
    return [EMFILE, ENFILE, EAGAIN, ENOMEM].contains(e.code)
  }

  /// Reads whatever the worker sent and acts on each frame.
  func readFrames(_ w: WorkerHandle) {
    guard w.socketOpen else { return }
    var eof = false
    var heard = false
    while let n = readSome(w.fd) {
      if n == 0 {
        eof = true
        break
      }
      heard = true
      readBuffer.withUnsafeBytes { w.decoder.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
      if n < readBuffer.count { break }
    }
    let now = clock.monotonic()
    // Only bytes count as a sign of life: the health check reads an overdue worker's socket
    // and must not take an empty read for a heartbeat.
    if heard { w.lastHeard = now }
    do {
      while let m = try w.decoder.nextWorkerMessage() { receive(m, from: w, now: now) }
    } catch {
      murder(w, .protocolViolation(error.description))
      eof = true
    }
    if eof {
      closeSocket(w)
      reconcileDue = true
    }
  }

  func receive(_ m: WorkerMessage, from w: WorkerHandle, now: MonotonicInstant) {
    switch m {
    case .heartbeat, .progress: break
    default: reconcileDue = true
    }
    switch m {
    case .hello(let version, _):
      guard version == workerProtocolVersion else {
        murder(
          w, .protocolViolation("protocol version \(version), expected \(workerProtocolVersion)"))
        return
      }
      if w.phase == .booting { w.phase = .ready }
      w.idleSince = now
      if let p = pool(named: w.pool) {
        p.maybeHasWork = true
        p.bootFailures = 0
        if p.crashLooping {
          p.crashLooping = false
          log(.notice, "pool recovered: a worker booted", ["pool": "\(p.name)"])
          pendingEvents.append(LifecycleEvent(at: clock.wall(), .poolRecovered(pool: p.name)))
        }
      }
    case .heartbeat:
      break
    case .result(let id, let json):
      if let i = w.index(of: id) { w.inFlight[i].result = json }
    case .progress(let id, let pct):
      if let i = w.index(of: id) {
        pendingProgress.append((id, pct))
        pendingProgressTypes.append(w.inFlight[i].type)
      }
    case .outcome(let id, var outcome, let handlerStart, let usage):
      guard let i = w.index(of: id) else { return }
      let job = w.inFlight.remove(at: i)
      let settlement: Settlement
      switch (job.stop, outcome) {
      case (.timeout(let limit)?, .cancelled):
        settlement = .failed("timed out after \(DurationText.format(limit))")
      case (_, .completed) where (job.result?.utf8.count ?? 0) > config.store.maxResult:
        settlement = .outcome(
          .permanent(
            "its result is \(job.result?.utf8.count ?? 0) bytes, more than store.max_result "
              + "(\(config.store.maxResult) bytes); the result was not kept"))
      case (_, .rateLimited) where pool(named: w.pool)?.config.limits != nil:
        // Its key's bucket is pushed back; the job waits for it in the store.
        settlement = .outcome(outcome)
      case (_, .snooze), (_, .rateLimited):
        // Snoozes spend no attempt: this bound is what ends a job that snoozes forever. A
        // pool without limits has no bucket to push back: a rate-limited job snoozes.
        if case .rateLimited(let d) = outcome { outcome = .snooze(d) }
        let limit = pool(named: w.pool)?.config.maxSnoozes ?? PoolConfig(name: "").maxSnoozes
        settlement =
          job.snoozes >= limit
          ? .outcome(
            .permanent(
              "snoozed \(job.snoozes) times, the pool's max_snoozes (\(limit)); not snoozed again"))
          : .outcome(outcome)
      default:
        settlement = .outcome(outcome)
      }
      settle(job, settlement, worker: w, handlerStart: handlerStart, usage: usage)
      if let started = job.startedAt {
        w.averageRun = PoolPolicy.averageRun(previous: w.averageRun, latest: now - started)
      }
      w.jobsDone += 1
      if case .completed = outcome { completedTotal += 1 }
      jobLeft(w, now: now)
      if w.recycleAfter > 0, w.jobsDone >= w.recycleAfter, w.phase == .ready {
        log(.info, "recycling worker after \(w.jobsDone) jobs", ["worker_pid": "\(w.pid)"])
        retire(w)
      }
    case .released(let id):
      guard let i = w.index(of: id) else { return }
      let job = w.inFlight.remove(at: i)
      settle(job, .released, worker: w)
      jobLeft(w, now: now)
    }
  }

  /// After a job left a live worker (finished or given back): the next ones move into its
  /// running window, and an emptied worker starts its idle time.
  func jobLeft(_ w: WorkerHandle, now: MonotonicInstant) {
    noteStarts(w, now: now)
    if w.inFlight.isEmpty { w.idleSince = now }
  }

  /// Marks the jobs that just moved into the worker's running window as started, and records
  /// the real start of those that waited on the worker for more than a millisecond (the claim
  /// time stands for the rest), so `started_at` is the attempt's start.
  func noteStarts(_ w: WorkerHandle, now: MonotonicInstant) {
    var wall: Timestamp?
    for (id, waited) in w.promoteStarted(now: now) where waited > .milliseconds(1) {
      if wall == nil { wall = clock.wall() }
      pendingStarts.append((id, wall!))
    }
  }

  /// Queues a job's settlement for this turn's group commit (logged and announced once it is
  /// stored: `settled`).
  /// `handlerStart`: when the worker began the attempt's handler (its outcome says), stored as
  /// the job's `started_at`; `usage`: what the attempt used, as the worker measured it.
  func settle(
    _ job: WorkerHandle.InFlight, _ s: Settlement, worker w: WorkerHandle,
    handlerStart: Timestamp? = nil, usage: JobUsage? = nil
  ) {
    let p = pool(named: w.pool)
    pendingFinishes.append(
      FinishParams(
        id: job.id, settlement: s, backoff: p?.config.backoff ?? .standard,
        jitter: options.jitter(), workerPID: w.pid, startedAt: handlerStart,
        result: job.result, usage: usage))
    pendingFinishInfo.append(
      FinishInfo(
        type: job.type, pool: w.pool, workerPID: w.pid,
        ranFor: job.startedAt.map { clock.monotonic() - $0 }))
    if case .outcome(.completed) = s {
    } else {
      // A retry or release may make work ready again.
      p?.maybeHasWork = true
      promoteDue = true
    }
  }

  /// A worker process exited: collect its status, settle its jobs with the cause, and let
  /// `reconcile` replace it.
  func reap(_ w: WorkerHandle) {
    // Whatever the worker started (exec commands) dies with it: a retry must never run next
    // to a leftover of the attempt it replaces. Killed before the reap: while the worker is
    // an unreaped zombie its pid, and so its process group id, cannot be reused by another
    // process.
    try? Signals.send(signal: SIGKILL, toGroup: w.pid)
    guard let status = (try? ProcessReaper.reap(w.pid)) ?? nil else { return }
    let now = clock.monotonic()
    lastWorkerExit = now
    deadGroups.append(w.pid)
    closeSocket(w)
    unregister(w.pidfd)
    FD.close(w.pidfd)
    let cause = "worker \(w.pid) \(status)"
    for (i, job) in w.inFlight.enumerated() {
      let started = i < w.concurrency && job.startedAt != nil
      let s: Settlement
      if !started {
        s = .released
      } else if case .timeout(let limit)? = job.stop {
        s = .failed("timed out after \(DurationText.format(limit)); \(cause)")
      } else if job.stop == .cancel {
        s = .outcome(.cancelled)
      } else {
        switch w.kill {
        case .drainTimeout?, .stopping?:
          s = .interrupted("drain timeout: \(cause) before the job finished")
        case .hung?:
          s = .failed("worker \(w.pid) stopped sending heartbeats and was killed (\(status))")
        case .protocolViolation(let why)?:
          s = .failed("worker \(w.pid) broke the protocol (\(why)) and was killed (\(status))")
        default: s = .failed(cause)
        }
      }
      settle(job, s, worker: w)
    }
    w.inFlight = []
    guard let p = pool(named: w.pool) else { return }
    p.workers.removeAll { $0 === w }
    reapStrays()
    let expected = w.phase == .retiring || w.kill == .stopping || w.kill == .retireTimeout
    var cannotBoot = false
    if case .exited(let code) = status, code == WorkerExit.cannotBoot { cannotBoot = true }
    let level: Logger.Level = expected ? .info : .error
    log(level, "worker exited: \(status)", ["pool": "\(p.name)", "worker_pid": "\(w.pid)"])
    pendingEvents.append(
      LifecycleEvent(
        at: clock.wall(),
        .workerExited(pool: p.name, pid: w.pid, cause: status.description, expected: expected)))
    if expected { return }
    if w.phase == .booting || now - w.spawnedAt < PoolPolicy.stableAfter {
      noteEarlyDeath(p, bootFailure: w.phase == .booting, cannotBoot: cannotBoot, now: now)
    } else {
      p.failures = 0
      p.restartNotBefore = nil
    }
  }

  /// Counts a death soon after spawn: respawns back off either way (no fork bomb). Deaths
  /// before hello are boot failures; past the threshold (or at once for "cannot boot") the
  /// pool is marked crash-looping. A worker killed by a job after booting (a poison job) only
  /// slows respawns: the job itself goes dead through its attempts.
  func noteEarlyDeath(_ p: PoolState, bootFailure: Bool, cannotBoot: Bool, now: MonotonicInstant) {
    p.failures += 1
    if cannotBoot { p.failures = max(p.failures, PoolPolicy.crashLoopThreshold) }
    if cannotBoot {
      p.bootFailures = max(p.bootFailures + 1, PoolPolicy.crashLoopThreshold)
    } else if bootFailure {
      p.bootFailures += 1
    }
    let delay = PoolPolicy.restartDelay(consecutiveFailures: p.failures)
    p.restartNotBefore = now + delay
    if p.bootFailures >= PoolPolicy.crashLoopThreshold && !p.crashLooping {
      p.crashLooping = true
      log(
        .critical,
        "pool is crash-looping: \(p.failures) workers died right after start; retrying every "
          + DurationText.format(delay) + " at most",
        ["pool": "\(p.name)"])
      pendingEvents.append(LifecycleEvent(at: clock.wall(), .poolCrashLooping(pool: p.name)))
    }
  }

  /// Stops reading a worker's socket (EOF, error, or it is being killed). Its exit is still
  /// learned from the pidfd.
  func closeSocket(_ w: WorkerHandle) {
    guard w.socketOpen else { return }
    w.socketOpen = false
    unregister(w.fd)
    workersByFD[w.fd] = nil
    FD.close(w.fd)
    w.outBuffer = []
  }

  /// Kills a worker that cannot be reasoned with (hung, broken protocol, boot timeout): SIGKILL
  /// at once. Its jobs are settled when it is reaped.
  func murder(_ w: WorkerHandle, _ why: WorkerHandle.KillReason) {
    if w.kill == nil { w.kill = why }
    log(.error, "killing worker: \(why)", ["pool": "\(w.pool)", "worker_pid": "\(w.pid)"])
    try? Signals.send(signal: SIGKILL, to: w.pid)
    w.sentSIGKILL = true
  }

  /// Staged kill: SIGTERM now, SIGKILL after `termGrace` (driven by housekeeping).
  func terminate(_ w: WorkerHandle, _ why: WorkerHandle.KillReason) {
    guard w.kill == nil || w.killDeadline == nil else { return }
    if w.kill == nil { w.kill = why }
    try? Signals.send(signal: SIGTERM, to: w.pid)
    w.killDeadline = clock.monotonic() + options.termGrace
  }

  /// Graceful exit: give back unstarted jobs, finish running ones, exit 0 (scale-down,
  /// recycle, removed pool, stop).
  func retire(_ w: WorkerHandle) {
    guard w.phase != .retiring else { return }
    if w.phase == .booting || !w.socketOpen {
      w.phase = .retiring
      terminate(w, .retireTimeout)
      return
    }
    w.phase = .retiring
    send(.shutdown, to: w)
  }
}
