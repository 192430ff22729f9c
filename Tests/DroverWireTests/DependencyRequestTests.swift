import DroverCore
import Testing

@testable import DroverWire

/// `ref`, `after` and `on_parent_failure` on enqueue requests, and the resolution of a batch's
/// refs to positions; the pure graph helpers behind them.
@Suite struct DependencyRequestTests {
  @Test func afterAndRefsParseAndRoundTrip() throws {
    let r = EnqueueRequest(
      type: "t", ref: "a", after: [.id(12), .ref("b")], onParentFailure: .run)
    let line = ControlRequest.enqueue(r).line
    #expect(line.contains(#""after":[12,"b"]"#), "\(line)")
    #expect(try ControlRequest.parse(line: line) == .enqueue(r))
    let batch = ControlRequest.enqueueBatch([r, EnqueueRequest(type: "u", ref: "b")])
    #expect(try ControlRequest.parse(line: batch.line) == batch)
  }

  @Test func badDependencyFieldsNameTheirKey() {
    let cases: [(String, String)] = [
      (#"{"cmd":"enqueue","type":"t","after":12}"#, "after"),
      (#"{"cmd":"enqueue","type":"t","after":[0]}"#, "after"),
      (#"{"cmd":"enqueue","type":"t","after":[""]}"#, "after"),
      (#"{"cmd":"enqueue","type":"t","after":[true]}"#, "after"),
      (#"{"cmd":"enqueue","type":"t","ref":""}"#, "ref"),
      (#"{"cmd":"enqueue","type":"t","on_parent_failure":"retry"}"#, "on_parent_failure"),
    ]
    for (line, key) in cases {
      do {
        _ = try ControlRequest.parse(line: line)
        Issue.record("\(line) parsed")
      } catch {
        #expect(error.field == key, "\(line): \(error.message)")
      }
    }
  }

  @Test func refsResolveToPositionsEarlierOrLater() throws {
    let rs = [
      EnqueueRequest(type: "t", ref: "d", after: [.ref("b"), .id(7)]),
      EnqueueRequest(type: "t", ref: "a"),
      EnqueueRequest(type: "t", ref: "b", after: [.ref("a")]),
    ]
    #expect(
      try EnqueueRequest.resolveParents(rs) == [[.batch(2), .job(7)], [], [.batch(1)]])
    let errors: [([EnqueueRequest], String)] = [
      ([EnqueueRequest(type: "t", after: [.ref("x")])], #"job 1: "after" names ref "x""#),
      (
        [EnqueueRequest(type: "t", ref: "x"), EnqueueRequest(type: "t", ref: "x")],
        #"job 2: ref "x" is already used by job 1"#
      ),
      ([EnqueueRequest(type: "t", ref: "x", after: [.ref("x")])], "waits on itself"),
      (
        [
          EnqueueRequest(type: "t", ref: "x", after: [.ref("z")]),
          EnqueueRequest(type: "t", ref: "y", after: [.ref("x")]),
          EnqueueRequest(type: "t", ref: "z", after: [.ref("y")]),
        ], "a dependency cycle among refs: x → z → y → x"
      ),
    ]
    for (batch, message) in errors {
      #expect(throws: ControlError.self) { try EnqueueRequest.resolveParents(batch) }
      do {
        _ = try EnqueueRequest.resolveParents(batch)
      } catch {
        #expect(error.message.contains(message), "\(error.message)")
      }
    }
  }

  @Test func graphHelpers() {
    #expect(DependencyHold.cycle([[], [0], [1]]) == nil)
    #expect(DependencyHold.cycle([[2], [0], [1]]) == [0, 2, 1, 0])
    #expect(DependencyHold.topologicalOrder([[1], [], [0, 1]]) == [1, 0, 2])
    // A long chain needs no deep recursion.
    let chain = (0..<200_000).map { $0 == 0 ? [] : [$0 - 1] }
    #expect(DependencyHold.cycle(chain) == nil)
    #expect(DependencyHold.topologicalOrder(chain).first == 0)
    let parents = [
      JobLink(id: 3, state: .completed), JobLink(id: 4, state: .running),
      JobLink(id: 5, state: nil), JobLink(id: 6, state: .queued),
    ]
    #expect(
      DependencyHold.text(state: .waiting, parents: parents)
        == "waiting on parents #4, #6 (2 of 4 done)")
    #expect(DependencyHold.text(state: .queued, parents: parents) == nil)
    #expect(DependencyHold.text(state: .waiting, parents: []) == nil)
  }
}
