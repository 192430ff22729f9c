import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The control socket: accept, read request lines, answer in order.
extension Supervisor {
  /// Event streams at once (each has a thread of its own).
  static let maxSubscribers = 64

  /// Accepts what is pending. Past ``ControlConnection/maxConnections``, or when fewer than
  /// `descriptorReserve` descriptors would be left for workers, a client is told why in one
  /// line and closed. Out of descriptors (EMFILE) the listener is not watched for a second:
  /// a level-triggered listener with a queued connection would otherwise spin the loop.
  func acceptControl() {
    while true {
      let fd: Int32
      do {
        guard let accepted = try UnixSocket.accept(listenerFD) else { return }
        fd = accepted
      } catch {
        pauseAccepting(because: "\(error)")
        return
      }
      let full = connections.count >= ControlConnection.maxConnections
      // Descriptors are handed out lowest first: a number this high means almost every one
      // below the limit is taken.
      if full || Int(fd) >= descriptorLimit - descriptorReserve {
        let why =
          full
          ? "too many control connections (\(ControlConnection.maxConnections)); try again later"
          : "the supervisor is short of file descriptors; try again later"
        let line = Array((ControlReply.failure(why).line + "\n").utf8)
        _ = line.withUnsafeBytes { writeSome(fd, $0) }
        FD.close(fd)
        refusedConnections += 1
        if refusalLog.due(clock.monotonic()) {
          log(.warning, "refused control connections: \(why) (\(refusedConnections) so far)")
        }
        continue
      }
      admit(fd)
    }
  }

  /// Stops watching the listener until `acceptResumeAt` (housekeeping resumes it).
  func pauseAccepting(because why: String) {
    guard acceptResumeAt == nil else { return }
    acceptResumeAt = clock.monotonic() + .seconds(1)
    try? epoll.modify(listenerFD, interest: [], reportPeerShutdown: false)
    log(.error, "cannot accept control connections (\(why)); pausing accept for 1s")
  }

  /// Watches the listener again once the accept pause is over.
  func resumeAccepting(now: MonotonicInstant) {
    guard let at = acceptResumeAt, now >= at else { return }
    acceptResumeAt = nil
    try? epoll.modify(listenerFD, interest: .readable)
  }

  /// Takes one accepted connection: checks the peer, refuses or serves it.
  func admit(_ fd: Int32) {
    let cred = try? PeerCredentials.of(fd)
    let allowed =
      cred.map {
        PeerPolicy.allows(
          $0, peerGroups: (try? PeerCredentials.groups(of: fd)) ?? [], serverUID: geteuid(),
          socketGID: controlSocketGID)
      } ?? false
    try? FD.setNonBlocking(fd)
    let c = ControlConnection(fd: fd, peerUID: cred?.uid ?? UInt32.max, now: clock.monotonic())
    connections[fd] = c
    register(fd, .control(c))
    guard allowed else {
      // Refused peers get one line saying why, then EOF; their input is read and dropped.
      let uid = cred.map { String($0.uid) } ?? "unknown"
      c.refusedAt = clock.monotonic()
      c.fill(
        c.reserve(),
        ControlReply.failure("permission denied: uid \(uid) may not use this socket").line)
      flush(c)
      UnixSocket.shutdownWrite(fd)
      log(.warning, "refused a control connection from uid \(uid)")
      return
    }
  }

  /// Reads what the client sent (unless backpressure paused it) and answers a turn's share.
  func readControl(_ c: ControlConnection) {
    if c.readPaused {
      // Only a hangup or an error reports a paused client: the write in flush finds out.
      flush(c)
      return
    }
    var eof = false
    while c.unread <= 2 * ControlConnection.maxLine, let n = readSome(c.fd) {
      if n == 0 {
        eof = true
        break
      }
      c.input.append(contentsOf: readBuffer[0..<n])
      if n < readBuffer.count { break }
    }
    if c.refusedAt != nil {
      c.input.removeAll(keepingCapacity: true)
      c.inputStart = 0
      if eof { closeControl(c) }
      return
    }
    answerLines(c)
    if c.detached { return }
    if eof { c.closing = true }
    flush(c)
  }

  /// Answers up to ``ControlConnection/linesPerTurn`` complete request lines, fewer while the
  /// client's replies pile up; what is left waits (`backlog`) for the next turn.
  func answerLines(_ c: ControlConnection) {
    var n = 0
    c.backlog = false
    while !c.detached, !c.shouldPauseReading {
      guard n < ControlConnection.linesPerTurn else {
        c.backlog = c.input[c.inputStart...].contains(0x0A)
        break
      }
      guard let next = c.nextLine() else { break }
      n += 1
      switch next {
      case .success(let line):
        if line.isEmpty { continue }
        answer(line, on: c)
      case .failure(let error):
        c.fill(c.reserve(), ControlReply.failure(error.message).line)
      }
    }
    // An `events` request gave the socket to its streaming thread: what else the peer sent
    // is not for the loop.
    if c.detached { return }
    c.compact()
    if c.unread > ControlConnection.maxLine, !c.input.contains(0x0A) {
      c.fill(
        c.reserve(),
        ControlReply.failure("request line longer than \(ControlConnection.maxLine) bytes").line)
      c.input = []
      c.closing = true
    }
  }

  /// Handles one request line: parsed into a `ControlRequest` and performed; the reply fills
  /// the request's slot when it is known (at once, or after the turn's commit for `enqueue`).
  func answer(_ line: String, on c: ControlConnection) {
    let slot = c.reserve()
    let request: ControlRequest
    do {
      request = try ControlRequest.parse(line: line)
    } catch {
      c.fill(slot, ControlReply.failure(error.message).line)
      return
    }
    if case .events(let type, let replay) = request {
      subscribe(c, slot: slot, type: type, replay: replay)
      return
    }
    perform(request) { [c] reply in c.fill(slot, reply.line) }
  }

  /// Hands the connection to an event-streaming thread once every earlier reply is out: the
  /// loop stops watching it, and the thread writes `subscribed`, then one event per line.
  func subscribe(_ c: ControlConnection, slot: Int, type: String?, replay: Bool) {
    guard events.subscriberCount < Self.maxSubscribers else {
      c.fill(
        slot, ControlReply.failure("too many event subscribers (\(Self.maxSubscribers))").line)
      return
    }
    flush(c)
    guard c.slots.count == 1, c.output.isEmpty else {
      c.fill(slot, ControlReply.failure("\"events\" must be the only request in flight").line)
      return
    }
    let (sub, replayed) = events.subscribe(replay: replay) { e in
      type == nil || e.jobType == type
    }
    // The loop lets go of the socket; the streamer owns (and closes) it from now on.
    unregister(c.fd)
    connections[c.fd] = nil
    c.detached = true
    EventStreamer.start(
      fd: c.fd, subscription: sub, greeting: ControlReply.subscribed(replayed: replayed).line)
  }

  /// Writes what the client takes, then sets what the loop watches it for: input unless
  /// backpressure paused it, room to write while output is pending. A client past the hard
  /// output limit is dropped.
  func flush(_ c: ControlConnection) {
    guard !c.detached else { return }
    while !c.output.isEmpty {
      let n = c.output.withUnsafeBytes { writeSome(c.fd, $0) }
      guard let written = n else { break }
      guard written > 0 else {
        c.closing = true
        c.output = []
        c.slots = []
        break
      }
      c.output.removeFirst(written)
      c.lastProgress = clock.monotonic()
      spinEnd = Monotonic.nanoseconds() + Spin.budget.saturatingNanoseconds
    }
    if c.output.isEmpty { c.lastProgress = clock.monotonic() }
    if c.output.count > ControlConnection.hardLimit {
      log(
        .warning,
        "dropping a control client that does not read its replies (\(c.output.count) bytes pending)"
      )
      closeControl(c)
      return
    }
    let want = !c.output.isEmpty
    let pause = c.refusedAt == nil && c.shouldPauseReading
    if want != c.wantsWritable || pause != c.readPaused {
      c.wantsWritable = want
      c.readPaused = pause
      var interest: Epoll.Interest = pause ? [] : .readable
      if want { interest.insert(.writable) }
      try? epoll.modify(c.fd, interest: interest, reportPeerShutdown: !pause)
      // Resumed: lines read before the pause are answered without waiting for new input.
      if !pause && c.unread > 0 { c.backlog = true }
    }
    if c.closing && c.output.isEmpty && c.slots.isEmpty { closeControl(c) }
  }

  /// Answers clients whose lines waited beyond their turn's share or a pause (called once per
  /// turn, before the commit).
  func answerBacklogs() {
    for c in connections.values where c.backlog && !c.readPaused {
      answerLines(c)
      if !c.detached { flush(c) }
    }
  }

  /// Drops clients that took none of their pending output for
  /// `SupervisorOptions.clientStallLimit`.
  func dropStalledClients(now: MonotonicInstant) {
    let limit = options.clientStallLimit
    for c in Array(connections.values) where !c.output.isEmpty {
      if now - c.lastProgress > limit {
        log(.warning, "dropping a control client that took no reply for \(limit)")
        closeControl(c)
      }
    }
  }

  func closeControl(_ c: ControlConnection) {
    guard !c.detached else { return }
    unregister(c.fd)
    connections[c.fd] = nil
    FD.close(c.fd)
  }
}
