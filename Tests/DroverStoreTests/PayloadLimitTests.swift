import DroverCore
import DroverStore
import Testing

/// `EnqueueParams.validate` enforces `store.max_payload` for every enqueue path.
@Suite struct PayloadLimitTests {
  @Test func aPayloadAboveTheLimitIsRefusedNamingSizeAndLimit() throws {
    let payload = #"{"s":""# + String(repeating: "x", count: 2000) + #""}"#
    let p = EnqueueParams(type: "t", payload: payload, maxPayload: 1024)
    #expect(
      throws: StoreError.invalidInput(
        "job 2 of 3 (t): the payload is \(payload.utf8.count) bytes, more than max_payload "
          + "(1024 bytes)")
    ) { try p.validate(index: 1, of: 3) }
    try EnqueueParams(type: "t", payload: payload, maxPayload: payload.utf8.count).validate()
  }

  @Test func theDefaultLimitIsOneMiB() {
    #expect(EnqueueParams(type: "t").maxPayload == 1 << 20)
  }
}
