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

  func acceptControl() {
    while true {
      let accepted: Int32?
      do {
        accepted = try UnixSocket.accept(listenerFD)
      } catch {
        // Out of descriptors (EMFILE/ENFILE): the pending connection stays in the backlog and
        // the listener stays readable, so watching it now would spin. Look again in a second.
        if acceptPausedUntil == nil {
          log(.error, "cannot accept control connections: \(error); pausing accept for 1 s")
          unregister(listenerFD)
          acceptPausedUntil = clock.monotonic() + .seconds(1)
        }
        return
      }
      guard let fd = accepted else { return }
      guard connections.count < ControlConnection.maxConnections else {
        // Over the cap: one line saying so (best effort, never blocking), then close.
        let line =
          ControlReply.failure(
            "too many control connections (\(ControlConnection.maxConnections)); try again later"
          ).line + "\n"
        _ = try? FD.setNonBlocking(fd)
        _ = Array(line.utf8).withUnsafeBytes { writeSome(fd, $0) }
        FD.close(fd)
        if connectionCapWarning.due(clock.monotonic()) {
          log(.warning, "refusing control connections: \(connections.count) are open already")
        }
        continue
      }
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
        continue
      }
    }
  }

  func readControl(_ c: ControlConnection) {
    var eof = false
    // Unprocessed input is bounded: a paused client's requests wait in the kernel's buffer.
    while c.input.count <= ControlConnection.maxLine, let n = readSome(c.fd) {
      if n == 0 {
        eof = true
        break
      }
      c.input.append(contentsOf: readBuffer[0..<n])
      if n < readBuffer.count { break }
    }
    if c.refusedAt != nil {
      c.input.removeAll(keepingCapacity: true)
      if eof { closeControl(c) }
      return
    }
    processInput(c)
    // An `events` request gave the socket to its streaming thread: what else the peer sent
    // is not for the loop.
    if c.detached { return }
    if eof { c.closing = true }
    flush(c)
  }

  /// Answers the complete request lines read so far, until the client is throttled (its
  /// replies are not taken); the rest waits for `flush` to drain its output.
  func processInput(_ c: ControlConnection) {
    while !c.detached, !c.throttled, let line = c.nextLine() {
      if line.isEmpty { continue }
      answer(line, on: c)
    }
    if c.detached || c.throttled { return }
    if c.input.count > ControlConnection.maxLine {
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

  /// Writes what the client takes, then applies backpressure: reading pauses while too much
  /// waits for it and resumes (answering what it had sent meanwhile) once that drained.
  func flush(_ c: ControlConnection) {
    guard !c.detached else { return }
    write(c)
    if c.paused, c.drained {
      c.paused = false
      processInput(c)
      if c.detached { return }
      write(c)
    }
    if !c.paused, c.throttled {
      c.paused = true
      logger.debug("control client paused: its replies are not being read")
    }
    var want: Epoll.Interest = c.paused ? [] : .readable
    if !c.output.isEmpty { want.insert(.writable) }
    if want != c.watching {
      c.watching = want
      try? epoll.modify(c.fd, interest: want)
    }
    if c.closing && c.output.isEmpty && c.slots.isEmpty { closeControl(c) }
  }

  /// Writes as much of the client's output as its socket takes now.
  private func write(_ c: ControlConnection) {
    var off = 0
    while off < c.output.count {
      let n = c.output.withUnsafeBytes {
        writeSome(c.fd, UnsafeRawBufferPointer(rebasing: $0[off...]))
      }
      guard let written = n else { break }
      guard written > 0 else {
        c.closing = true
        c.output = []
        c.slots = []
        return
      }
      off += written
    }
    if off > 0 {
      c.output.removeFirst(off)
      c.lastProgress = clock.monotonic()
    }
  }

  func closeControl(_ c: ControlConnection) {
    guard !c.detached else { return }
    unregister(c.fd)
    connections[c.fd] = nil
    FD.close(c.fd)
  }
}
