import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The periodic tick, as its named duties. Each is cheap when there is nothing to do.
extension Supervisor {
  func housekeeping(now: MonotonicInstant) {
    escalateKills(now: now)
    // Heartbeat silence and /proc samples are judged in seconds: not every tick, so an idle
    // supervisor's tick does not walk every worker for them.
    if workerCheck.due(now) {
      checkWorkerHealth(now: now)
      sampleWorkers(now: now)
    }
    checkJobDeadlines(now: now)
    retireStragglers(now: now)
    steal(now: now)
    dropRefusedPeers(now: now)
    dropStalledClients(now: now)
    resumeAccepting(now: now)
    advanceUpgrade(now: now)
    rollOldWorkers()
    // Strays appear when a worker dies (its commands' orphans come here): looked for every
    // second while a worker died in the last 10 s or a dead one's group lives on, else
    // every 10 s.
    let recentDeath = lastWorkerExit.map { now - $0 < .seconds(10) } ?? false
    if strayCheck.due(now) && (recentDeath || !deadGroups.isEmpty || strayIdleCheck.due(now)) {
      reapStrays()
    }
    if checkCancels || cancelCheck.due(now) {
      checkCancels = false
      applyCancelRequests(now: now)
    }
    if scaling.due(now) { autoscale(now: now) }
    checkStorage()
    noticeStoreChanges(now: now)
    watchStore()
    pruneRetention(now: now)
    runSchedules()
    renewLease(now: now)
    feedWatchdog(now: now)
    if statusReport.due(now) { notifier.notify("STATUS=" + statusLine()) }
  }

  /// Staged kill: SIGTERM was sent and the grace passed, so SIGKILL.
  func escalateKills(now: MonotonicInstant) {
    for p in pools {
      for w in p.workers where !w.sentSIGKILL {
        if let d = w.killDeadline, now >= d {
          try? Signals.send(signal: SIGKILL, to: w.pid)
          w.sentSIGKILL = true
        }
      }
    }
  }

  /// Workers that never said hello, or stopped sending heartbeats, are killed and replaced.
  /// A worker that looks overdue is read first: its frames may be waiting in the socket (the
  /// loop itself was late), and only silence there convicts it.
  func checkWorkerHealth(now: MonotonicInstant) {
    for p in pools {
      for w in p.workers where w.kill == nil {
        let overdue =
          w.phase == .booting
          ? now - w.spawnedAt > options.bootTimeout
          : w.socketOpen && now - w.lastHeard > options.heartbeatTimeout
        guard overdue else { continue }
        if w.socketOpen { readFrames(w) }
        guard w.kill == nil else { continue }
        if w.phase == .booting, now - w.spawnedAt > options.bootTimeout {
          murder(w, .bootTimeout)
        } else if w.phase != .booting, w.socketOpen, now - w.lastHeard > options.heartbeatTimeout {
          murder(w, .hung)
        }
      }
    }
  }

  /// A gap between ticks this long is the loop's own stall (SIGSTOP, a paused VM, a stuck
  /// disk), not its workers' silence.
  var stallThreshold: Duration { max(.seconds(1), options.tick * 10) }

  /// The loop did not run for `gap`: every worker's silence is forgiven once (its heartbeats
  /// sit unread in the socket), and judged again from now at the following ticks; the lease
  /// is renewed at once.
  func loopStalled(for gap: Duration, now: MonotonicInstant) {
    log(
      .warning, "the supervisor's loop stalled for \(DurationText.format(gap)); not blaming workers"
    )
    for p in pools {
      for w in p.workers { w.lastHeard = max(w.lastHeard, now) }
    }
    leaseRenewal.last = nil
  }

  /// Children of this process that are not workers: orphans of commands whose worker died,
  /// re-parented here (this process is a child subreaper). Killed and reaped.
  func reapStrays() {
    let workers = Set(pools.lazy.flatMap(\.workers).map(\.pid))
    let killed = Subreaper.killStrays(keep: workers.contains)
    if !killed.isEmpty {
      log(.warning, "killed \(killed.count) processes left behind by dead workers: \(killed)")
    }
    deadGroups.removeAll { !Subreaper.groupHasMembers($0) }
  }

  /// Whether `pid` is one of this supervisor's workers (reaped or not yet).
  func isWorkerPID(_ pid: Int32) -> Bool {
    pools.contains { $0.workers.contains { $0.pid == pid } }
  }

  /// Jobs past their pool's timeout are asked to stop; jobs whose stop was not answered
  /// within the grace get their worker terminated.
  func checkJobDeadlines(now: MonotonicInstant) {
    for p in pools {
      for w in p.workers where w.kill == nil {
        for i in w.inFlight.indices {
          guard let started = w.inFlight[i].startedAt else { continue }
          if w.inFlight[i].stop == nil, now - started > p.config.timeout {
            w.inFlight[i].stop = .timeout(p.config.timeout)
            w.inFlight[i].stopDeadline = now + options.stopGrace
            send(.cancel(w.inFlight[i].id), to: w)
            log(
              .warning, "job timed out after \(DurationText.format(p.config.timeout)); cancelling",
              ["job_id": "\(w.inFlight[i].id)", "worker_pid": "\(w.pid)"])
          }
          if let d = w.inFlight[i].stopDeadline, now >= d {
            terminate(w, w.inFlight[i].stop == .cancel ? .jobCancel : .jobTimeout)
            break
          }
        }
      }
    }
  }

  /// Reads each worker's CPU time and RSS from /proc/PID/stat, every 2 s per busy worker and
  /// every 30 s per idle one (one small
  /// read: `ctl status`, `/pools` and the metrics show the last reading); a worker above its
  /// pool's `max_rss` is recycled between jobs. The figures are the worker process's own (its
  /// reaped exec commands' CPU included, a running command's not: the supervisor does not know
  /// those pids).
  func sampleWorkers(now: MonotonicInstant) {
    for p in pools {
      for w in p.workers where w.usageCheck.due(now) {
        // An idle worker's figures hardly move: read every 30 s instead of every 2 s.
        if w.inFlight.isEmpty && w.jobsDone == w.jobsAtSample && w.idleSamplesSkipped < 14 {
          w.idleSamplesSkipped += 1
          continue
        }
        w.idleSamplesSkipped = 0
        w.jobsAtSample = w.jobsDone
        guard let sample = ResourceUsage.sample(of: w.pid) else { continue }
        w.usage = sample
        if p.config.maxRSS > 0, w.kill == nil, w.phase == .ready, sample.rss > p.config.maxRSS {
          log(
            .info, "recycling worker: RSS \(sample.rss) bytes above max_rss",
            ["worker_pid": "\(w.pid)"])
          retire(w)
        }
      }
    }
  }

  /// A retiring worker that does not exit gets the staged kill.
  func retireStragglers(now: MonotonicInstant) {
    for p in pools {
      for w in p.workers where w.kill == nil && w.phase == .retiring && w.inFlight.isEmpty {
        if now - w.idleSince > options.termGrace { terminate(w, .retireTimeout) }
      }
    }
  }

  /// Work stealing: while a worker of a pool is idle, a sibling whose running job has run
  /// longer than `PoolPolicy.stealAfter` gives back its prefetched jobs, so they run now
  /// instead of after the long one.
  func steal(now: MonotonicInstant) {
    let after = PoolPolicy.stealAfter
    for p in pools where dispatching(p) && p.workers.contains(where: { $0.acceptsJobs && !$0.busy })
    {
      for w in p.workers where w.prefetched > 0 && w.socketOpen {
        if let last = w.lastRelease, now - last <= after { continue }
        guard let started = w.inFlight.first?.startedAt, now - started > after else { continue }
        w.lastRelease = now
        send(.release, to: w)
      }
    }
  }

  /// Refused control peers are closed a second after they were told why.
  func dropRefusedPeers(now: MonotonicInstant) {
    for c in Array(connections.values) {
      if let at = c.refusedAt, now - at > .seconds(1) { closeControl(c) }
    }
  }

  /// Running jobs whose cancel was asked (by `jobs cancel` in another process) get a cancel
  /// frame, then the staged kill if they ignore it.
  func applyCancelRequests(now: MonotonicInstant) {
    let anyRunning = pools.contains { $0.workers.contains { !$0.inFlight.isEmpty } }
    guard anyRunning, let ids = try? store.cancelRequested(), !ids.isEmpty else { return }
    let wanted = Set(ids)
    for p in pools {
      for w in p.workers {
        for i in w.inFlight.indices
        where wanted.contains(w.inFlight[i].id) && w.inFlight[i].stop == nil {
          w.inFlight[i].stop = .cancel
          w.inFlight[i].stopDeadline = now + options.stopGrace
          send(.cancel(w.inFlight[i].id), to: w)
          log(
            .info, "cancelling running job",
            ["job_id": "\(w.inFlight[i].id)", "worker_pid": "\(w.pid)"])
        }
      }
    }
  }

  /// The store's files must still be the ones opened (one `stat`): a deleted or replaced
  /// store would take acknowledged enqueues into a file nobody reads again. Then stop taking
  /// work and exit non-zero, so systemd starts a supervisor on the real file.
  func checkStorage() {
    guard storageLost == nil else { return }
    do { try store.checkStorage() } catch { storageFailed(error) }
  }

  /// The store cannot be trusted any more (gone, replaced, corrupt): refuse new work, stop
  /// without waiting for running jobs (their outcomes cannot be stored), exit 1.
  func storageFailed(_ error: StoreError) {
    guard storageLost == nil else { return }
    storageLost = error
    log(.critical, "store failure, refusing new work and stopping: \(error)")
    exitCode = 1
    beginStop(signal: SIGTERM)
    drainDeadline = clock.monotonic()
  }

  /// Wake-ups that cannot be lost: another writer committed (a CLI, a script, a peer), or the
  /// fallback interval passed, so every pool looks for work again; due scheduled jobs are
  /// promoted at the commit.
  func noticeStoreChanges(now: MonotonicInstant) {
    if let due = nextDue, due <= clock.wall() { promoteDue = true }
    if (try? store.othersWrote()) == true {
      noteStoreChanged()
    } else if recheck.due(now) {
      // The fallback for a missed wake-up: only pools whose types have ready jobs by the
      // counters claim (a claim per pool each second is most of an idle many-pool turn).
      if let ready = try? store.backlog(now: clock.wall()) {
        for p in pools where p.config.types.contains(where: { ready[$0, default: 0] > 0 }) {
          p.maybeHasWork = true
        }
      } else {
        for p in pools { p.maybeHasWork = true }
      }
      promoteDue = true
    }
  }

  /// A peer's notification arrived: look for work now instead of at the next tick.
  func storeWoke() {
    if (try? store.othersWrote()) == true { noteStoreChanged() }
    watchStore()
  }

  /// Keeps the store's wake-up descriptor (if it has one) in the epoll set across reconnects.
  /// A descriptor the driver closed may already be reused by another source: it is only
  /// unregistered while it still stands for the store.
  func watchStore() {
    let now = store.wakeSource
    guard now != watchedStore else { return }
    if let old = watchedStore, case .store? = sources[old.fd] { unregister(old.fd) }
    watchedStore = now
    if let now { register(now.fd, .store) }
  }

  /// Retention: every `pruneInterval` a bounded batch is deleted, and another at each tick
  /// while batches come back full, so a large backlog of old jobs never stalls a turn. The
  /// batch size adapts to keep each one short.
  func pruneRetention(now: MonotonicInstant) {
    guard pruneBehind || pruning.due(now) else { return }
    let wall = clock.wall()
    // Maintenance has one holder among supervisors sharing a store (PostgreSQL); with SQLite
    // this supervisor is the only owner and always holds it.
    let leader = try? store.acquireLeadership(
      LeadershipParams(name: "maintenance", owner: owner, lease: options.lease, now: wall))
    guard leader != false else {
      pruneBehind = false
      return
    }
    let started = clock.monotonic()
    do {
      let n = try store.prune(
        PruneParams(
          completedBefore: wall.adding(.zero - config.store.retainCompleted),
          deadBefore: wall.adding(.zero - config.store.retainDead), limit: pruneLimit,
          statsBefore: wall.adding(.zero - config.store.retainStats)))
      let took = clock.monotonic() - started
      pruneBehind = n >= pruneLimit
      // A batch holds the loop: keep it to a few milliseconds (a status request or a job
      // waits behind it), and let it grow while it is much quicker than that.
      if took > .milliseconds(4) {
        pruneLimit = max(50, pruneLimit / 2)
      } else if took < .milliseconds(1) && pruneBehind {
        pruneLimit = min(20_000, pruneLimit * 2)
      }
      if n > 0 { logger.debug("pruned \(n) finished jobs past retention in \(took)") }
    } catch {
      pruneBehind = false
      log(.error, "prune failed: \(error)")
    }
  }

  /// Keeps this supervisor's lease on its running jobs, and once per lease takes back jobs
  /// of owners whose lease ran out (peers on a shared store; with SQLite there are none while
  /// this supervisor holds the file). A lost lease (a peer rescued our jobs) means outcomes can
  /// no longer be stored: stop and let systemd start afresh. An unreachable store (a stopped
  /// server, a cut link) is only reported and retried: the supervisor stays up, its workers
  /// finish their jobs, and the outcomes are stored once the store is back.
  func renewLease(now: MonotonicInstant) {
    let period = leaseRenewal.interval
    let duties = LeasePolicy.duties(
      renewalDue: leaseRenewal.due(now), rescueDue: rescueCheck.due(now),
      sinceRenewal: now - leaseRenewedAt, period: period)
    if duties.renew {
      do {
        try store.renewLease(LeaseParams(owner: owner, lease: options.lease, now: clock.wall()))
        leaseRenewedAt = now
        storeUnreachable = nil
      } catch .conflict(let why) {
        log(.critical, "this supervisor's lease was lost (\(why)); stopping")
        exitCode = 1
        beginStop(signal: SIGTERM)
        return
      } catch {
        // Once per outage (its messages alternate between "lost" and "cannot connect").
        if storeUnreachable == nil { log(.error, "lease renewal failed, will retry: \(error)") }
        storeUnreachable = error.description
      }
    }
    guard duties.rescueAfterRenewal else { return }
    if LeasePolicy.mayRescue(sinceRenewal: now - leaseRenewedAt, period: period) {
      rescueExpired(message: "its supervisor's lease ran out (the host or process is gone)")
    } else {
      // Again at the next tick, after the next renewal attempt.
      rescueCheck.last = nil
    }
  }

  /// Logs when the store stops or starts again taking writes (once each way, whichever of
  /// commits and lease renewals noticed it); returns the problem, for the probe that
  /// `GET /readyz` reads.
  func noteStoreProblem() -> String? {
    let problem = storeProblem
    if (problem != nil) != storeProblemLogged {
      storeProblemLogged = problem != nil
      if let problem {
        log(.error, "the store cannot be written (\(problem)); retrying")
      } else {
        log(.notice, "the store is writable again")
      }
    }
    return problem
  }

  /// WATCHDOG=1 at half of systemd's WatchdogSec, from the loop itself (a stuck loop stops it).
  func feedWatchdog(now: MonotonicInstant) {
    guard let wd = notifier.watchdogInterval() else { return }
    watchdog.interval = wd / 2
    if watchdog.due(now) { notifier.notify("WATCHDOG=1") }
  }
}
