import Foundation
import Synchronization
import Testing

@testable import DroverSystem

@Suite struct FDTests {
  @Test func readReportsDataEmptyAndEOF() throws {
    let (a, b) = try SocketPair.make()
    defer { FD.close(a) }
    try FD.setNonBlocking(a)
    var buffer = [UInt8](repeating: 0, count: 16)
    #expect(try FD.read(a, into: &buffer) == nil)  // nothing yet: EAGAIN
    #expect(try FD.write(b, Array("abc".utf8)) == 3)
    #expect(try FD.read(a, into: &buffer) == 3)
    #expect(buffer[..<3] == ArraySlice("abc".utf8))
    FD.close(b)
    #expect(try FD.read(a, into: &buffer) == 0)
  }

  @Test func writeToAGoneSocketPeerThrowsInsteadOfRaisingSIGPIPE() throws {
    let (a, b) = try SocketPair.make()
    defer { FD.close(a) }
    FD.close(b)
    let error = #expect(throws: SystemError.self) { try FD.write(a, [1, 2, 3]) }
    #expect(error?.code == EPIPE)
  }

  @Test func nonBlockingWriteFillsThenReportsNil() throws {
    let (a, b) = try SocketPair.make()
    defer {
      FD.close(a)
      FD.close(b)
    }
    try FD.setNonBlocking(a)
    let chunk = [UInt8](repeating: 7, count: 64 * 1024)
    var total = 0
    var sawFull = false
    for _ in 0..<1_000 {
      guard let n = try FD.write(a, chunk) else {
        sawFull = true
        break
      }
      total += n
    }
    #expect(sawFull)
    #expect(total > 0)
  }

  @Test func writeAllOnANonBlockingSocketWaitsForTheReader() throws {
    let (a, b) = try SocketPair.make()
    try FD.setNonBlocking(a)
    let size = 4 * 1024 * 1024
    let received = Mutex(0)
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      var buffer = [UInt8](repeating: 0, count: 65536)
      while let n = try? FD.read(b, into: &buffer), n > 0 {
        received.withLock { $0 += n }
      }
      FD.close(b)
      done.signal()
    }
    try FD.writeAll(a, [UInt8](repeating: 1, count: size))
    try FD.writeAll(a, "")
    FD.close(a)
    #expect(done.wait(timeout: .now() + 10) == .success)
    #expect(received.withLock { $0 } == size)
  }

  @Test func flagsRoundTrip() throws {
    let pipe = try PipePair.make()
    defer {
      FD.close(pipe.read)
      FD.close(pipe.write)
    }
    #expect(try FD.isCloseOnExec(pipe.read))
    try FD.setCloseOnExec(pipe.read, false)
    #expect(try !FD.isCloseOnExec(pipe.read))
    try FD.setNonBlocking(pipe.read)
    #expect(fcntl(pipe.read, F_GETFL) & O_NONBLOCK != 0)
    try FD.setNonBlocking(pipe.read, false)
    #expect(fcntl(pipe.read, F_GETFL) & O_NONBLOCK == 0)
    #expect(throws: SystemError.self) { try FD.setNonBlocking(-1) }
  }

  @Test func waitUntilReadableTimesOut() throws {
    let (a, b) = try SocketPair.make()
    defer {
      FD.close(a)
      FD.close(b)
    }
    let start = Monotonic.now()
    #expect(try !FD.waitUntilReadable(a, timeout: .milliseconds(20)))
    #expect(Monotonic.now() - start >= .milliseconds(20))
    #expect(try FD.waitUntilWritable(a, timeout: .zero))
  }

  @Test func systemErrorText() {
    let plain = SystemError(call: "epoll_wait", code: EBADF)
    #expect(plain.description == "epoll_wait: Bad file descriptor")
    let detailed = SystemError(call: "bind", code: EADDRINUSE, detail: "/x.sock")
    #expect(detailed.description == "bind: /x.sock (Address already in use)")
  }
}
