import DroverCore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Drain: `ctl drain` (quiet mode) and SIGTERM share one path; SIGTERM then also exits.
extension Supervisor {
  /// Stops dispatching to the pools (all when nil) and gives back prefetched jobs; running jobs
  /// finish. Returns the names drained, or nil for an unknown pool.
  func drain(_ name: String?) -> [String]? {
    guard let targets = pools(named: name) else { return nil }
    for p in targets where !p.paused {
      p.paused = true
      for w in p.workers where w.socketOpen && w.phase == .ready && w.inFlight.count > 0 {
        send(.release, to: w)
      }
      log(.notice, "pool drained: dispatch stopped", ["pool": "\(p.name)"])
    }
    return targets.map(\.name)
  }

  /// Ends quiet mode for the pools (all when nil). Returns the names, or nil for an unknown pool.
  func resume(_ name: String?) -> [String]? {
    guard let targets = pools(named: name) else { return nil }
    guard state != .stopping else { return [] }
    for p in targets where p.paused {
      p.paused = false
      p.maybeHasWork = true
      log(.notice, "pool resumed", ["pool": "\(p.name)"])
    }
    return targets.map(\.name)
  }

  /// The pool named `name`, or every pool when nil; nil for an unknown name.
  func pools(named name: String?) -> [PoolState]? {
    guard let name else { return pools }
    return pool(named: name).map { [$0] }
  }

  /// SIGTERM / SIGINT: drain everything, then stop the workers and exit. A second signal cuts
  /// the wait short (as if `drain_timeout` had passed).
  func beginStop(signal sig: Int32) {
    let now = clock.monotonic()
    if state == .stopping {
      log(.warning, "signal \(sig) again: not waiting for running jobs any longer")
      drainDeadline = now
      return
    }
    log(
      .notice,
      "signal \(sig): draining, then exiting (drain_timeout \(DurationText.format(config.supervisor.drainTimeout)))"
    )
    _ = drain(nil)
    state = .stopping
    drainDeadline = now + config.supervisor.drainTimeout
    notifier.notify(
      "STOPPING=1\nSTATUS=draining\nEXTEND_TIMEOUT_USEC="
        + String((config.supervisor.drainTimeout + options.termGrace + .seconds(5)).microseconds))
  }

  /// Moves a stop forward: once nothing runs (or the drain timeout passed), workers are shut
  /// down; once none is left, the loop ends.
  func advanceStop() {
    guard state == .stopping else { return }
    let now = clock.monotonic()
    let timedOut = drainDeadline.map { now >= $0 } ?? false
    for p in pools {
      for w in p.workers {
        if w.inFlight.isEmpty {
          retire(w)
        } else if timedOut && w.kill == nil {
          log(
            .warning, "drain timeout: stopping a worker with running jobs",
            ["worker_pid": "\(w.pid)"])
          terminate(w, .drainTimeout)
        }
      }
    }
    // Exit once every worker is gone and its outcomes are stored. If the store keeps failing,
    // give up 10 s past the drain deadline: the jobs are still `running` in the store, and the
    // next start rescues them, so nothing is lost by leaving.
    let storeGaveUp =
      commitFailedAt != nil && drainDeadline.map { now - $0 > .seconds(10) } ?? false
    if pools.allSatisfy({ $0.workers.isEmpty }) && (pendingFinishes.isEmpty || storeGaveUp) {
      if storeGaveUp {
        log(
          .critical,
          "exiting with \(pendingFinishes.count) outcomes not stored; they run again on the next start"
        )
      }
      exitRequested = true
    }
  }

  /// Recomputes the overall state from the pools (not while stopping), and READY=1 once every
  /// pool has its `min` workers (or is crash-looping: one bad pool must not hold the others).
  func updateState() {
    guard state != .stopping else { return }
    if state == .starting {
      let up = pools.allSatisfy { p in
        p.crashLooping || p.workers.filter { $0.phase == .ready }.count >= p.config.min
      }
      guard up else { return }
      state = .running
      if !readySent {
        readySent = true
        notifier.notify("READY=1\nSTATUS=" + statusLine())
        log(.notice, "supervisor ready", ["pid": "\(getpid())"])
      }
    }
    let allPaused = !pools.isEmpty && pools.allSatisfy(\.paused)
    if allPaused {
      let busy = pools.flatMap(\.workers).contains { !$0.inFlight.isEmpty }
      state = busy ? .draining : .drained
    } else {
      state = .running
    }
  }
}
