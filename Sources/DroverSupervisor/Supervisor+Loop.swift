import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Start, stop and the plumbing between epoll and the event enum.
extension Supervisor {
  func start() throws {
    rescueExpired(
      message: "the supervisor that ran this attempt died; rescued at start-up")
    // Orphans of exec commands (daemons that left the worker's group) come back here when
    // their worker is gone, to be killed: `reapStrays`.
    do { try Subreaper.enable() } catch {
      log(.warning, "cannot become a child subreaper: \(error)")
    }
    descriptorLimit = DescriptorLimit.soft()
    descriptorReserve = min(32, max(8, descriptorLimit / 4))
    if let handover {
      restore(handover)
      self.handover = nil
    } else {
      let listener = try openControlListener()
      listenerFD = listener.fd
      controlSocketGID = listener.groupID
      register(listenerFD, .controlListener)
    }
    register(signals.fd, .signals)
    register(mailbox.wake.fd, .mailbox)
    watchStore()
    refreshNextDue()
    notifier.notify("STATUS=starting")
    log(
      .notice, "supervisor starting",
      [
        "pid": "\(getpid())",
        "store": "\(config.store.url.map(PostgresURL.redacted) ?? config.store.path)",
      ])
    lastTick = clock.monotonic()
    reconcile()
    updateState()
  }

  /// Takes back running jobs whose owner's lease ran out (at start: a dead predecessor's).
  func rescueExpired(message: String) {
    let rescued: [RescuedJob]
    do {
      rescued = try store.rescueExpired(RescueParams(message: message, now: clock.wall()))
    } catch {
      log(.error, "rescue of expired leases failed: \(error)")
      return
    }
    guard !rescued.isEmpty else { return }
    log(.warning, "rescued \(rescued.count) jobs left running by a dead supervisor")
    let at = clock.wall()
    for r in rescued {
      pendingEvents.append(LifecycleEvent(at: at, .rescued(id: r.id, type: r.type, state: r.state)))
    }
    for p in pools { p.maybeHasWork = true }
  }

  /// After the loop: last commit, close everything, remove the socket file, end the session.
  func finish() {
    commit()
    publishPendingEvents()
    for c in Array(connections.values) { closeControl(c) }
    // What dead workers' commands left behind (their groups' members and those members'
    // orphans, re-parented here): killed and reaped before this process goes.
    Subreaper.settle(groups: deadGroups, keep: isWorkerPID, timeout: .seconds(2))
    closeControlListener()
    reader.stop()
    log(.notice, "supervisor stopped")
    do { try store.closeSession(owner) } catch {
      log(.error, "closing the store session: \(error)")
    }
  }

  func register(_ fd: Int32, _ source: EventSource) {
    sources[fd] = source
    try? epoll.add(fd, interest: .readable)
  }

  func unregister(_ fd: Int32) {
    guard sources.removeValue(forKey: fd) != nil else { return }
    try? epoll.remove(fd)
  }

  /// Turns one epoll readiness into events.
  func events(from source: EventSource, events ev: Epoll.Events) -> [SupervisorEvent] {
    switch source {
    case .signals:
      return ((try? signals.drain()) ?? []).map { .signal($0) }
    case .worker(let w):
      return [.workerReadable(w)]
    case .workerPidFD(let w):
      return [.workerExited(w)]
    case .controlListener:
      return [.controlAccept]
    case .mailbox:
      return [.mailbox]
    case .store:
      return [.storeWake]
    case .control(let c):
      var out: [SupervisorEvent] = []
      if ev.contains(.writable) { out.append(.controlWritable(c)) }
      if ev.contains(.readable) || ev.contains(.hangup) || ev.contains(.error) {
        out.append(.controlReadable(c))
      }
      return out
    }
  }

  /// What is ready before `spinEnd`, polled without sleeping (see `Spin`); empty when nothing
  /// came, or when `spinGovernor` rules the spin out. The spin waits for a control client's
  /// next request: only that counts as found. Another event (a worker's frame) ends it
  /// uncounted, and the next turn spins on to `spinEnd`; a spin that reaches `spinEnd` with
  /// nothing counts as a miss. So at a steady 5,000 jobs/s (a request every 200 µs, the
  /// worker's report in between) the governor soon stops the spinning.
  func spinWait() throws(SystemError) -> [(fd: Int32, events: Epoll.Events)] {
    let start = Monotonic.nanoseconds()
    let end = spinEnd
    guard start < end, spinGovernor.maySpin(now: start) else {
      spinEnd = 0
      return []
    }
    var ready: [(fd: Int32, events: Epoll.Events)] = []
    _ = try Spin.until(budget: .nanoseconds(end - start)) { () throws(SystemError) in
      ready = try epoll.wait(timeout: .zero)
      return !ready.isEmpty
    }
    let request = ready.contains { r in
      if case .control = sources[r.fd] { true } else { false }
    }
    if request || ready.isEmpty {
      // A miss cost the whole window, over however many turns it was spun.
      let from = end - Spin.budget.saturatingNanoseconds
      spinGovernor.spun(found: request, start: from, end: Monotonic.nanoseconds())
      spinEnd = 0
    }
    return ready
  }

  /// How long epoll may sleep: until the next tick, or at once when work is pending.
  func nextTimeoutMS() -> Int32 {
    // Work waiting for a commit goes at once, unless the store just failed: then the next
    // try waits for the tick instead of spinning on a broken disk.
    let now = clock.monotonic()
    let recentFailure = commitFailedAt.map { now - $0 < options.tick } ?? false
    if !recentFailure && (!pendingFinishes.isEmpty || !pendingEnqueues.isEmpty || releasedWork) {
      return 0
    }
    if connections.values.contains(where: { $0.backlog && !$0.readPaused }) { return 0 }
    var left = options.tick - (now - lastTick)
    if let at = nextLimitAt {
      // A held key's bucket refills (or its block ends) before the tick: wake for it.
      left = min(left, .microseconds(max(0, at.micros - clock.wall().micros)))
    }
    return Int32(clamping: max(0, (left.saturatingNanoseconds + 999_999) / 1_000_000))
  }
}
