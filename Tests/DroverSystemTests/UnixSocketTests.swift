import Foundation
import Testing

@testable import DroverSystem

@Suite struct UnixSocketTests {
  /// Accepts the connection a client just made (bounded wait on the listener).
  func acceptOne(_ listener: UnixListener) throws -> Int32 {
    guard try FD.waitUntilReadable(listener.fd, timeout: .seconds(5)),
      let fd = try UnixSocket.accept(listener.fd)
    else { throw TimedOut(what: "a connection on \(listener.path)") }
    return fd
  }

  func fileMode(_ path: String) -> UInt32 {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode : 0
  }

  @Test func listenConnectAcceptRoundTripWithPeerCredentials() throws {
    try withTemporaryDirectory { (dir) throws in
      let path = dir + "/control.sock"
      let listener = try UnixSocket.listen(path: path)
      defer { listener.close() }
      #expect(fileMode(path) & 0o170000 == 0o140000)  // a socket
      #expect(fileMode(path) & 0o7777 == 0o660)
      #expect(listener.groupID == getegid())
      #expect(try UnixSocket.accept(listener.fd) == nil)  // nothing pending

      let client = try UnixSocket.connect(path: path)
      defer { FD.close(client) }
      let server = try acceptOne(listener)
      defer { FD.close(server) }
      #expect(fcntl(server, F_GETFL) & O_NONBLOCK != 0)
      #expect(try FD.isCloseOnExec(server))
      #expect(try FD.isCloseOnExec(client))

      try FD.writeAll(client, "ping\n")
      #expect(try readSome(server) == "ping\n")
      try FD.writeAll(server, "pong\n")
      #expect(try readSome(client) == "pong\n")

      let peer = try PeerCredentials.of(server)
      #expect(peer == PeerCredentials(pid: getpid(), uid: geteuid(), gid: getegid()))
      #expect(try PeerCredentials.of(client).pid == getpid())
      let count = getgroups(0, nil)
      var mine = [gid_t](repeating: 0, count: Int(count))
      _ = getgroups(count, &mine)
      #expect(Set(try PeerCredentials.groups(of: server)) == Set(mine))
      #expect(
        PeerPolicy.allows(peer, serverUID: geteuid(), socketGID: listener.groupID))
    }
  }

  @Test func modeIsExactWhateverTheUmask() throws {
    try withTemporaryDirectory { (dir) throws in
      let listener = try UnixSocket.listen(path: dir + "/a.sock", mode: 0o600)
      defer { listener.close() }
      #expect(fileMode(listener.path) & 0o7777 == 0o600)
    }
  }

  @Test func staleSocketFileIsReplaced() throws {
    try withTemporaryDirectory { (dir) throws in
      let path = dir + "/control.sock"
      let first = try UnixSocket.listen(path: path)
      FD.close(first.fd)  // a crash: the file stays behind, nobody listens
      #expect(access(path, F_OK) == 0)
      let error = #expect(throws: SystemError.self) { try UnixSocket.connect(path: path) }
      #expect(error?.code == ECONNREFUSED)

      let second = try UnixSocket.listen(path: path)
      defer { second.close() }
      let client = try UnixSocket.connect(path: path)
      defer { FD.close(client) }
      FD.close(try acceptOne(second))
    }
  }

  @Test func liveSocketIsRefusedAndLeftWorking() throws {
    try withTemporaryDirectory { (dir) throws in
      let path = dir + "/control.sock"
      let live = try UnixSocket.listen(path: path)
      defer { live.close() }
      let error = #expect(throws: SystemError.self) { try UnixSocket.listen(path: path) }
      #expect(error?.code == EADDRINUSE)
      #expect(error?.description.contains("a live server already answers") == true)
      // The probe connection is pending on the live listener; drain it, then check the
      // server still works.
      while let probe = try UnixSocket.accept(live.fd) { FD.close(probe) }
      let client = try UnixSocket.connect(path: path)
      defer { FD.close(client) }
      FD.close(try acceptOne(live))
    }
  }

  @Test func aFileThatIsNotASocketIsNeverRemoved() throws {
    try withTemporaryDirectory { (dir) throws in
      let path = dir + "/control.sock"
      #expect(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
      let error = #expect(throws: SystemError.self) { try UnixSocket.listen(path: path) }
      #expect(error?.description.contains("not a socket") == true)
      #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep")
    }
  }

  @Test func tooLongPathIsAClearError() {
    let path = "/tmp/" + String(repeating: "x", count: 150) + ".sock"
    let error = #expect(throws: SystemError.self) { try UnixSocket.listen(path: path) }
    #expect(error?.code == ENAMETOOLONG)
    #expect(error?.description.contains("the limit is 107") == true)
    #expect(throws: SystemError.self) { try UnixSocket.connect(path: path) }
    #expect(UnixSocket.maxPathBytes == 107)
    // Exactly at the limit is fine as far as the address goes.
    let exact = "/tmp/" + String(repeating: "y", count: 102)
    #expect(throws: Never.self) { try UnixSocket.socketAddress(exact, call: "test") }
  }

  @Test func connectToNothingFails() throws {
    try withTemporaryDirectory { (dir) throws in
      let error = #expect(throws: SystemError.self) {
        try UnixSocket.connect(path: dir + "/none.sock", timeout: .seconds(1))
      }
      #expect(error?.code == ENOENT)
    }
  }

  @Test func connectTimesOutWhenTheBacklogIsFull() throws {
    try withTemporaryDirectory { (dir) throws in
      let listener = try UnixSocket.listen(path: dir + "/full.sock", backlog: 0)
      defer { listener.close() }
      var clients: [Int32] = []
      defer { clients.forEach(FD.close) }
      var timedOut: SystemError?
      var elapsed = Duration.zero
      for _ in 0..<8 where timedOut == nil {
        let start = Monotonic.now()
        do {
          clients.append(
            try UnixSocket.connect(path: listener.path, timeout: .milliseconds(100)))
        } catch let error as SystemError {
          timedOut = error
          elapsed = Monotonic.now() - start
        }
      }
      #expect(timedOut?.code == ETIMEDOUT)
      #expect(elapsed >= .milliseconds(90))
      #expect(elapsed < .seconds(5))
    }
  }

  @Test func closeRemovesOnlyItsOwnFile() throws {
    try withTemporaryDirectory { (dir) throws in
      let path = dir + "/control.sock"
      let first = try UnixSocket.listen(path: path)
      first.close()
      #expect(access(path, F_OK) != 0)

      // Someone moves our live socket aside and starts another server on the path: closing
      // the old listener must leave the new server's file alone.
      let old = try UnixSocket.listen(path: path)
      #expect(rename(path, dir + "/moved.sock") == 0)
      let successor = try UnixSocket.listen(path: path)
      defer { successor.close() }
      old.close()
      #expect(access(path, F_OK) == 0)
      #expect(access(dir + "/moved.sock", F_OK) == 0)
    }
  }

  @Test func receiveTimeoutMakesReadReturnNil() throws {
    let (a, b) = try SocketPair.make()
    defer {
      FD.close(a)
      FD.close(b)
    }
    try UnixSocket.setTimeouts(a, receive: .milliseconds(20), send: nil)
    var buffer = [UInt8](repeating: 0, count: 8)
    let start = Monotonic.now()
    #expect(try FD.read(a, into: &buffer) == nil)
    #expect(Monotonic.now() - start >= .milliseconds(15))
  }
}

@Suite struct PeerPolicyTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var peerUID: UInt32
    var peerGID: UInt32
    var peerGroups: [UInt32] = []
    var allowed: Bool
    var testDescription: String { name }
  }

  static let serverUID: UInt32 = 990
  static let socketGID: UInt32 = 985

  @Test(arguments: [
    Case(name: "same user", peerUID: 990, peerGID: 1, allowed: true),
    Case(name: "root", peerUID: 0, peerGID: 0, allowed: true),
    Case(name: "primary group is the socket's", peerUID: 1000, peerGID: 985, allowed: true),
    Case(
      name: "supplementary group is the socket's", peerUID: 1000, peerGID: 1000,
      peerGroups: [27, 985], allowed: true),
    Case(
      name: "other user, other groups", peerUID: 1000, peerGID: 1000, peerGroups: [27],
      allowed: false),
    Case(name: "nobody", peerUID: 65534, peerGID: 65534, allowed: false),
  ])
  func decides(c: Case) {
    #expect(
      PeerPolicy.allows(
        peerUID: c.peerUID, peerGID: c.peerGID, peerGroups: c.peerGroups,
        serverUID: Self.serverUID, socketGID: Self.socketGID) == c.allowed)
    let peer = PeerCredentials(pid: 42, uid: c.peerUID, gid: c.peerGID)
    #expect(
      PeerPolicy.allows(
        peer, peerGroups: c.peerGroups, serverUID: Self.serverUID, socketGID: Self.socketGID)
        == c.allowed)
  }
}
