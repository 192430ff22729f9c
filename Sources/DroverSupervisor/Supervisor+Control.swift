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
  func acceptControl() {
    while let fd = try? UnixSocket.accept(listenerFD) {
      let cred = try? PeerCredentials.of(fd)
      let allowed =
        cred.map {
          PeerPolicy.allows(
            $0, peerGroups: (try? PeerCredentials.groups(of: fd)) ?? [], serverUID: geteuid(),
            socketGID: controlSocketGID)
        } ?? false
      try? FD.setNonBlocking(fd)
      let c = ControlConnection(fd: fd, peerUID: cred?.uid ?? UInt32.max)
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
    while let n = readSome(c.fd) {
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
    while !c.detached, let next = c.nextLine() {
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
    if c.input.count > ControlConnection.maxLine {
      c.fill(
        c.reserve(),
        ControlReply.failure("request line longer than \(ControlConnection.maxLine) bytes").line)
      c.input = []
      c.closing = true
    }
    if eof { c.closing = true }
    flush(c)
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
    }
    let want = !c.output.isEmpty
    if want != c.wantsWritable {
      c.wantsWritable = want
      try? epoll.modify(c.fd, interest: want ? [.readable, .writable] : .readable)
    }
    if c.closing && c.output.isEmpty && c.slots.isEmpty { closeControl(c) }
  }

  func closeControl(_ c: ControlConnection) {
    guard !c.detached else { return }
    unregister(c.fd)
    connections[c.fd] = nil
    FD.close(c.fd)
  }
}
