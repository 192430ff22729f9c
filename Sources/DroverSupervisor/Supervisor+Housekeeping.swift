import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The periodic tick: timeouts, heartbeats, staged kills, cancels, scaling, recycling by RSS,
/// pruning, watchdog and STATUS.
extension Supervisor {
  func housekeeping() {
    let now = Monotonic.nanoseconds()
    let ns = { (d: Duration) -> Int64 in d.microseconds * 1000 }
    for p in pools {
      for w in p.workers {
        // Staged kill: SIGTERM was sent, the grace passed.
        if let d = w.killDeadlineNS, now >= d, !w.sentSIGKILL {
          try? Signals.send(signal: SIGKILL, to: w.pid)
          w.sentSIGKILL = true
        }
        if w.kill != nil { continue }
        if w.phase == .booting, now - w.spawnedNS > ns(options.bootTimeout) {
          murder(w, .bootTimeout)
          continue
        }
        if w.phase != .booting, w.socketOpen, now - w.lastHeardNS > ns(options.heartbeatTimeout) {
          murder(w, .hung)
          continue
        }
        for i in w.inFlight.indices {
          guard let started = w.inFlight[i].startedNS else { continue }
          if w.inFlight[i].stop == nil, now - started > ns(p.config.timeout) {
            w.inFlight[i].stop = .timeout(p.config.timeout)
            w.inFlight[i].stopDeadlineNS = now + ns(options.stopGrace)
            FrameEncoder.append(SupervisorMessage.cancel(w.inFlight[i].id), to: &w.outBuffer)
            log(
              .warning, "job timed out after \(DurationText.format(p.config.timeout)); cancelling",
              ["job_id": "\(w.inFlight[i].id)", "worker_pid": "\(w.pid)"])
          }
          if let d = w.inFlight[i].stopDeadlineNS, now >= d {
            terminate(w, w.inFlight[i].stop == .cancel ? .jobCancel : .jobTimeout)
            break
          }
        }
        if p.config.maxRSS > 0, w.phase == .ready, now - w.lastRSSCheckNS > ns(.seconds(2)) {
          w.lastRSSCheckNS = now
          if let rss = ResourceUsage.rss(of: w.pid), rss > p.config.maxRSS {
            log(
              .info, "recycling worker: RSS \(rss) bytes above max_rss", ["worker_pid": "\(w.pid)"])
            retire(w)
          }
        }
        // A retiring worker that does not exit gets the staged kill.
        if w.phase == .retiring, w.inFlight.isEmpty, now - w.lastIdleSinceNS > ns(options.termGrace)
        {
          terminate(w, .retireTimeout)
        }
      }
    }
    steal(nowNS: now)
    for c in Array(connections.values) {
      if let at = c.refusedAtNS, now - at > ns(.seconds(1)) { closeControl(c) }
    }
    if checkCancels || now - lastCancelCheckNS > ns(.seconds(1)) {
      lastCancelCheckNS = now
      checkCancels = false
      applyCancelRequests(nowNS: now)
    }
    if now - lastScaleNS > ns(.milliseconds(500)) {
      lastScaleNS = now
      autoscale(nowNS: now)
    }
    if let due = nextDue, due <= .now() { promoteDue = true }
    if now - lastPruneNS > ns(.seconds(3600)) || lastPruneNS == 0 {
      lastPruneNS = now
      prune()
    }
    if let wd = notifier.watchdogInterval(), now - lastWatchdogNS >= ns(wd) / 2 {
      lastWatchdogNS = now
      notifier.notify("WATCHDOG=1")
    }
    if now - lastStatusNS > ns(.seconds(2)) {
      lastStatusNS = now
      notifier.notify("STATUS=" + statusLine())
    }
  }

  /// Work stealing: while a worker of a pool is idle, a sibling whose running job has run
  /// longer than `PoolPolicy.stealAfter` gives back its prefetched jobs, so they run now
  /// instead of after the long one.
  func steal(nowNS now: Int64) {
    let after = PoolPolicy.stealAfter.microseconds * 1000
    for p in pools where dispatching(p) && p.workers.contains(where: { $0.acceptsJobs && !$0.busy })
    {
      for w in p.workers where w.prefetched > 0 && w.socketOpen && now - w.lastReleaseNS > after {
        guard let started = w.inFlight.first?.startedNS, now - started > after else { continue }
        w.lastReleaseNS = now
        FrameEncoder.append(SupervisorMessage.release, to: &w.outBuffer)
      }
    }
  }

  /// Running jobs whose cancel was asked (by `jobs cancel` in another process) get a cancel
  /// frame, then the staged kill if they ignore it.
  func applyCancelRequests(nowNS now: Int64) {
    let anyRunning = pools.contains { $0.workers.contains { !$0.inFlight.isEmpty } }
    guard anyRunning, let ids = try? store.cancelRequested(), !ids.isEmpty else { return }
    let wanted = Set(ids)
    for p in pools {
      for w in p.workers {
        for i in w.inFlight.indices
        where wanted.contains(w.inFlight[i].id) && w.inFlight[i].stop == nil {
          w.inFlight[i].stop = .cancel
          w.inFlight[i].stopDeadlineNS = now + options.stopGrace.microseconds * 1000
          FrameEncoder.append(SupervisorMessage.cancel(w.inFlight[i].id), to: &w.outBuffer)
          log(
            .info, "cancelling running job",
            ["job_id": "\(w.inFlight[i].id)", "worker_pid": "\(w.pid)"])
        }
      }
    }
  }

  func prune() {
    let now = Timestamp.now()
    do {
      let n = try store.prune(
        PruneParams(
          completedBefore: now.adding(.zero - config.store.retainCompleted),
          deadBefore: now.adding(.zero - config.store.retainDead)))
      if n > 0 { log(.info, "pruned \(n) finished jobs past retention") }
    } catch {
      log(.error, "prune failed: \(error)")
    }
  }
}
