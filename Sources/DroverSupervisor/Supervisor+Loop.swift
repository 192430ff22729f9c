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
    let rescued = try store.rescueExpired(
      RescueParams(message: "the supervisor that ran this attempt died; rescued at start-up"))
    if !rescued.isEmpty {
      log(.warning, "rescued \(rescued.count) jobs left running by a dead supervisor")
    }
    let listener = try UnixSocket.listen(path: config.control.socket, mode: 0o660)
    listenerFD = listener.fd
    controlSocketGID = listener.groupID
    register(listenerFD, .controlListener)
    register(signals.fd, .signals)
    refreshNextDue()
    notifier.notify("STATUS=starting")
    log(.notice, "supervisor starting", ["pid": "\(getpid())", "store": "\(config.store.path)"])
    lastTickNS = Monotonic.nanoseconds()
    reconcile()
    updateState()
  }

  /// After the loop: last commit, close everything, remove the socket file.
  func finish() {
    commit()
    for c in Array(connections.values) { closeControl(c) }
    unregister(listenerFD)
    FD.close(listenerFD)
    unlink(config.control.socket)
    log(.notice, "supervisor stopped")
    try? store.closeSession(owner)
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
    case .control(let c):
      var out: [SupervisorEvent] = []
      if ev.contains(.writable) { out.append(.controlWritable(c)) }
      if ev.contains(.readable) || ev.contains(.hangup) || ev.contains(.error) {
        out.append(.controlReadable(c))
      }
      return out
    }
  }

  /// How long epoll may sleep: until the next tick, or at once when work is pending.
  func nextTimeoutMS() -> Int32 {
    // Work waiting for a commit goes at once, unless the store just failed: then the next
    // try waits for the tick instead of spinning on a broken disk.
    let recentFailure =
      commitFailedNS.map { Monotonic.nanoseconds() - $0 < options.tick.microseconds * 1000 }
      ?? false
    if !recentFailure && (!pendingFinishes.isEmpty || !pendingEnqueues.isEmpty) { return 0 }
    let elapsed = Monotonic.nanoseconds() - lastTickNS
    let left = options.tick.microseconds * 1000 - elapsed
    return Int32(clamping: max(0, (left + 999_999) / 1_000_000))
  }
}
