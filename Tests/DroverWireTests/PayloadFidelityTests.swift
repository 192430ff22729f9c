import DroverCore
import Testing

@testable import DroverWire

/// Parsing a payload never changes it silently: numbers keep their text, a repeated key and
/// out-of-range schedules are refused with the field named.
@Suite struct PayloadFidelityTests {
  @Test(arguments: [
    "12345678901234567890", "-12345678901234567890", "1e400", "-1e400", "1.50", "1E+2", "-0",
    "0.1", "123456789012345678901234567890.5e-3", "9223372036854775807", "-9223372036854775808",
  ])
  func numbersRenderExactlyAsWritten(text: String) throws {
    let doc = #"{"n":\#(text),"a":[\#(text)]}"#
    #expect(try JSONValue.parse(doc).render() == doc)
  }

  @Test func numbersStillReadAsNumbers() throws {
    let v = try JSONValue.parse(#"{"a":12345678901234567890,"b":1.5,"c":2.0,"d":7,"e":-0}"#)
    #expect(v["a"]?.doubleValue == Double("12345678901234567890"))
    #expect(v["a"]?.intValue == nil)
    #expect(v["b"]?.doubleValue == 1.5)
    #expect(v["c"]?.intValue == 2)
    #expect(v["d"] == .int(7))
    #expect(v["e"]?.intValue == 0)
    #expect(v["a"]?.kindName == "number")
  }

  @Test(arguments: [
    (#"{"a":1,"a":2}"#, #"duplicate key "a""#),
    (#"{"x":{"k":1,"b":2,"k":3}}"#, #"duplicate key "k""#),
    (#"[{"a":1},{"a":1,"z":0,"a":1}]"#, #"duplicate key "a""#),
  ])
  func duplicatedKeysAreRefused(text: String, message: String) {
    #expect(throws: JSONError.self) { try JSONValue.parse(text) }
    do {
      _ = try JSONValue.parse(text)
    } catch {
      #expect(error.message == message)
    }
  }

  @Test func duplicatedKeysAreFoundInLargeObjects() throws {
    let keys = (0..<40).map { #""k\#($0)":\#($0)"# }
    let fine = "{" + keys.joined(separator: ",") + "}"
    #expect(try JSONValue.parse(fine).objectValue?.count == 40)
    let twice = "{" + keys.joined(separator: ",") + #","k3":0}"#
    #expect(throws: JSONError(offset: twice.utf8.count - 7, message: #"duplicate key "k3""#)) {
      try JSONValue.parse(twice)
    }
  }

  @Test func requestsKeepThePayloadsNumbers() throws {
    let line = #"{"cmd":"enqueue","type":"t","payload":{"id":12345678901234567890,"x":1e400}}"#
    guard case .enqueue(let r) = try ControlRequest.parse(line: line) else {
      Issue.record("not an enqueue")
      return
    }
    #expect(r.payload.render() == #"{"id":12345678901234567890,"x":1e400}"#)
  }

  @Test func aDuplicatedKeyInARequestIsNamed() {
    #expect(throws: ControlError.self) {
      try ControlRequest.parse(line: #"{"cmd":"enqueue","type":"a","type":"b"}"#)
    }
    do {
      _ = try ControlRequest.parse(line: #"{"cmd":"enqueue","type":"t","payload":{"a":1,"a":2}}"#)
    } catch {
      #expect(error.message.contains(#"duplicate key "a""#), "\(error.message)")
    }
  }

  @Test func delaysAndTimesBeyondOneHundredYearsAreRefused() throws {
    for line in [
      #"{"cmd":"enqueue","type":"t","delay":"106751990d"}"#,
      #"{"cmd":"enqueue","type":"t","delay":"36501d"}"#,
    ] {
      #expect(throws: ControlError.self) { try ControlRequest.parse(line: line) }
      do { _ = try ControlRequest.parse(line: line) } catch {
        #expect(error.message.hasPrefix(#""delay" must be at most 36500d"#), "\(error.message)")
      }
    }
    let far = #"{"cmd":"enqueue","type":"t","at":"9999-12-31T00:00:00Z"}"#
    do {
      _ = try ControlRequest.parse(line: far)
      Issue.record("accepted")
    } catch {
      #expect(error.message.hasPrefix(#""at" must be at most 100 years ahead"#), "\(error.message)")
    }
    // Within the limit, and the past, are fine.
    _ = try ControlRequest.parse(line: #"{"cmd":"enqueue","type":"t","delay":"36500d"}"#)
    _ = try ControlRequest.parse(line: #"{"cmd":"enqueue","type":"t","at":"1970-01-02T00:00:00Z"}"#)
    #expect(throws: ControlError.self) {
      try ControlRequest.parse(
        line: #"{"cmd":"enqueue","type":"t","backoff":{"base":"1s","cap":"106751990d"}}"#)
    }
  }
}

extension PayloadFidelityTests {
  @Test func smallNegativeIntegersStayIntegers() throws {
    let v = try JSONValue.parse(#"{"a":-4,"b":-0,"c":-10}"#)
    #expect(v["a"] == .int(-4))
    #expect(v["b"] == .number("-0"))
    #expect(v["c"] == .int(-10))
  }
}

/// `enqueue_batch` on the control socket: its line parses back, and a bad job names its place
/// and field.
@Suite("enqueue_batch")
struct EnqueueBatchLineTests {
  @Test func roundTripsAndNamesTheBadField() throws {
    let batch = ControlRequest.enqueueBatch([
      EnqueueRequest(type: "a", priority: 3), EnqueueRequest(type: "b", uniqueKey: "k"),
    ])
    #expect(try ControlRequest.parse(line: batch.line) == batch)
    #expect(
      throws: ControlError(
        "jobs[1]: \"priority\" must be an integer between -1000000 and 1000000", field: "priority")
    ) {
      try ControlRequest.parse(
        line: #"{"cmd":"enqueue_batch","jobs":[{"type":"a"},{"type":"b","priority":"x"}]}"#)
    }
    #expect(throws: ControlError.self) {
      try ControlRequest.parse(line: #"{"cmd":"enqueue_batch","jobs":[]}"#)
    }
  }
}
