import Drivers
import RackswarmCore
import Reconciler
import Testing

/// The drivers' and the store's `CodedError`s: the words they read as, and the intent each code stands for.
struct CodedErrorTests {
    @Test func gitStoreAndAgentErrorsReadAsTheyDid() {
        #expect("\(GitError(.unknownRef, "no branch named 'x'"))" == "git: unknownRef: no branch named 'x'")
        #expect("\(StateStoreError(.leaseLost, "rack r1"))" == "state store: leaseLost: rack r1")
        #expect("\(ServiceAgentError(.busy, "127.0.0.1:7000"))" == "busy: 127.0.0.1:7000")
    }

    @Test func eachCodeSaysWhetherAHumanMustAct() {
        #expect(GitError(.authentication, "").intent == .stalled)
        #expect(GitError(.unreachable, "").intent == .transient)
        #expect(StateStoreError(.unavailable, "").intent == .transient)
        #expect(ServiceAgentError(.badKey, "").intent == .stalled)
        #expect(ServiceAgentError(.busy, "").intent == .waiting(retryAfter: .seconds(5)))
        #expect(ServiceAgentError(.timedOut, "", intent: .stalled).intent == .stalled)
    }
}
