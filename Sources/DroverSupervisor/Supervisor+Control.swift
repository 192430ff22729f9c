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
        c.refusedAtNS = Monotonic.nanoseconds()
        c.fill(c.reserve(), errorReply("permission denied: uid \(uid) may not use this socket"))
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
    if c.refusedAtNS != nil {
      c.input.removeAll(keepingCapacity: true)
      if eof { closeControl(c) }
      return
    }
    while let line = c.nextLine() {
      if line.isEmpty { continue }
      answer(line, on: c)
    }
    if c.input.count > ControlConnection.maxLine {
      c.fill(c.reserve(), errorReply("request line longer than \(ControlConnection.maxLine) bytes"))
      c.input = []
      c.closing = true
    }
    if eof { c.closing = true }
    flush(c)
  }

  /// Handles one request line; the reply fills the request's slot now, or after the turn's
  /// commit for `enqueue`.
  func answer(_ line: String, on c: ControlConnection) {
    let slot = c.reserve()
    let request: ControlRequest
    do {
      request = try ControlRequest.parse(line: line)
    } catch {
      c.fill(slot, errorReply(error.message))
      return
    }
    switch request {
    case .status:
      c.fill(slot, statusJSON().render())
    case .wake:
      for p in pools { p.maybeHasWork = true }
      promoteDue = true
      checkCancels = true
      refreshNextDue()
      c.fill(slot, #"{"ok":true}"#)
    case .enqueue(let r):
      pendingEnqueues.append((c, slot, r))
    case .scale(let name, let target):
      c.fill(slot, scale(name, target))
    case .drain(let name):
      guard let names = drain(name) else {
        c.fill(slot, errorReply(unknownPool(name!)))
        return
      }
      c.fill(slot, okReply(["pools": .array(names.map { .string($0) })]))
    case .resume(let name):
      guard let names = resume(name) else {
        c.fill(slot, errorReply(unknownPool(name!)))
        return
      }
      c.fill(slot, okReply(["pools": .array(names.map { .string($0) })]))
    case .reload:
      switch reload(trigger: "control socket") {
      case .success: c.fill(slot, okReply([:]))
      case .failure(let e): c.fill(slot, errorReply("reload rejected, old config kept: \(e)"))
      }
    }
  }

  func scale(_ name: String, _ target: ScaleTarget) -> String {
    guard let p = pool(named: name) else { return errorReply(unknownPool(name)) }
    switch target {
    case .auto:
      p.auto = true
      log(.notice, "pool returned to autoscaling", ["pool": "\(name)"])
    case .count(let n):
      guard n >= p.config.min && n <= p.config.max else {
        return errorReply(
          "pool \(name): workers must be between min \(p.config.min) and max \(p.config.max), got \(n)"
        )
      }
      p.auto = false
      p.target = n
      log(.notice, "pool pinned at \(n) workers", ["pool": "\(name)"])
    }
    return okReply(["pool": .string(name), "target": .int(Int64(p.target)), "auto": .bool(p.auto)])
  }

  func unknownPool(_ name: String) -> String {
    "no pool named \"\(name)\" (pools: " + pools.map(\.name).joined(separator: ", ") + ")"
  }

  func okReply(_ extra: [String: JSONValue]) -> String {
    var f = [JSONField("ok", true)]
    for k in extra.keys.sorted() { f.append(JSONField(k, extra[k]!)) }
    return JSONValue.object(f).render()
  }

  func errorReply(_ message: String) -> String {
    JSONValue.object([JSONField("ok", false), JSONField("error", .string(message))]).render()
  }

  func flush(_ c: ControlConnection) {
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
    unregister(c.fd)
    connections[c.fd] = nil
    FD.close(c.fd)
    pendingEnqueues.removeAll { $0.conn === c }
  }

  /// `ctl status` (CONTRACT.md shape, plus `crash_looping` per pool).
  func statusJSON() -> JSONValue {
    let stats = (try? store.stats()) ?? [:]
    let jobs: [JSONField] = JobState.allCases.map {
      JSONField($0.name, .int(Int64(stats[$0] ?? 0)))
    }
    return .object([
      JSONField("ok", true),
      JSONField("pid", .int(Int64(getpid()))),
      JSONField("state", .string(state.rawValue)),
      JSONField(
        "pools",
        .array(
          pools.map { p in
            .object([
              JSONField("name", .string(p.name)),
              JSONField("target", .int(Int64(p.target))),
              JSONField("min", .int(Int64(p.config.min))),
              JSONField("max", .int(Int64(p.config.max))),
              JSONField("auto", .bool(p.auto)),
              JSONField("paused", .bool(p.paused)),
              JSONField("crash_looping", .bool(p.crashLooping)),
              JSONField("types", .array(p.config.types.map { .string($0) })),
              JSONField(
                "workers",
                .array(
                  p.workers.map { w in
                    .object([
                      JSONField("pid", .int(Int64(w.pid))),
                      JSONField("busy", .bool(w.busy)),
                      JSONField("jobs_done", .int(Int64(w.jobsDone))),
                      JSONField("ready", .bool(w.phase == .ready)),
                      JSONField("retiring", .bool(w.phase == .retiring || w.kill != nil)),
                    ])
                  })),
            ])
          })),
      JSONField("jobs", .object(jobs)),
    ])
  }

  /// One line for systemd's STATUS= and the logs.
  func statusLine() -> String {
    let workers = pools.reduce(0) { $0 + $1.workers.count }
    let busy = pools.reduce(0) { $0 + $1.workers.filter(\.busy).count }
    let looping = pools.filter(\.crashLooping).map(\.name)
    var s =
      "\(state.rawValue): \(pools.count) pools, \(workers) workers (\(busy) busy), \(completedTotal) jobs completed"
    if !looping.isEmpty { s += "; crash-looping: " + looping.joined(separator: ", ") }
    return s
  }
}
