import DroverCore
import DroverWire
import Testing

@testable import DroverSupervisor

/// The control socket's line reader: its length limit holds however a line arrives.
@Suite struct ControlConnectionTests {
  static func connection(_ bytes: [UInt8]) -> ControlConnection {
    let c = ControlConnection(fd: -1, peerUID: 0, now: MonotonicInstant(nanoseconds: 0))
    c.input = bytes
    return c
  }

  /// A line over the limit that came whole, its newline in the same read, is refused and
  /// skipped (it used to be handed to the JSON parser); the line after it is read as usual.
  @Test func aWholeLineOverTheLimitIsRefusedAndTheNextOneRead() throws {
    let max = ControlConnection.maxLine
    var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: max + 1)
    bytes.append(0x0A)
    bytes += Array(#"{"cmd":"status"}"#.utf8) + [0x0A]
    let c = Self.connection(bytes)
    let first = try #require(c.nextLine())
    guard case .failure(let error) = first else {
      Issue.record("an oversize line was accepted")
      return
    }
    #expect(error.message == "request line longer than \(max) bytes")
    #expect(try #require(c.nextLine()) == .success(#"{"cmd":"status"}"#))
    #expect(c.nextLine() == nil)
  }

  @Test func aLineOfExactlyTheLimitIsRead() throws {
    let max = ControlConnection.maxLine
    let c = Self.connection([UInt8](repeating: UInt8(ascii: "y"), count: max) + [0x0A])
    guard case .success(let line) = try #require(c.nextLine()) else {
      Issue.record("a line of the limit was refused")
      return
    }
    #expect(line.utf8.count == max)
  }
}
