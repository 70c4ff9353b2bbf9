import Testing

@testable import Torrent

/// `WindowShare`: window-limited TCP's rates, set by the queueing delay on each flow's data and acknowledgement
/// paths (benchmarks/README.md, "What the lab's TCP does").
struct WindowShareTests {
    @Test(arguments: [1, 2, 3, 16])
    func flowsOnOneLinkShareItEvenly(flows: Int) {
        var data = FlowPaths()
        var acks = FlowPaths()
        for _ in 0..<flows {
            data.append([0])
            acks.append([1])
        }
        let solved = WindowShare.rates(data, acks: acks, capacities: [1000, 1000])
        #expect(solved.rounds < WindowShare.maxRounds)
        for rate in solved.rates { #expect(abs(rate - 1000 / Double(flows)) < 1e-4) }
    }

    @Test func aFlowAcrossTwoFullLinksGetsLessThanMaxMinGivesIt() {
        // Flow 1 crosses both links, flows 0 and 2 one each: proportional fairness gives 2/3, 1/3, 2/3 (max-min
        // would give 1/2 each), the delay price of each link being 3/2.
        var data = FlowPaths()
        var acks = FlowPaths()
        for path in [[0], [0, 1], [1]] as [[Int32]] {
            data.append(path)
            acks.append([])
        }
        let solved = WindowShare.rates(data, acks: acks, capacities: [1, 1])
        #expect(solved.rounds < WindowShare.maxRounds)
        #expect(abs(solved.rates[0] - 2.0 / 3) < 1e-5)
        #expect(abs(solved.rates[1] - 1.0 / 3) < 1e-5)
        #expect(abs(solved.rates[2] - 2.0 / 3) < 1e-5)
    }

    @Test func acknowledgementsQueuedBehindAFullLinkSlowTheirFlow() {
        // Flows 0 and 1 share link 0; flow 0's acknowledgements cross link 1, which flow 2's data fills. Link 1's
        // price is 1 (flow 2 alone at rate 1), link 0's p with 1/(p + 1) + 1/p = 1: p = φ (the golden ratio), so
        // flow 1 gets 1/φ ≈ 0.618 and flow 0 1/φ² ≈ 0.382. Max-min would give each 1/2.
        var data = FlowPaths()
        var acks = FlowPaths()
        data.append([0])
        acks.append([1])
        data.append([0])
        acks.append([])
        data.append([1])
        acks.append([])
        let solved = WindowShare.rates(data, acks: acks, capacities: [1, 1])
        let phi = (1 + 5.0.squareRoot()) / 2
        #expect(solved.rounds < WindowShare.maxRounds)
        #expect(abs(solved.rates[0] - 1 / (phi * phi)) < 1e-5)
        #expect(abs(solved.rates[1] - 1 / phi) < 1e-5)
        #expect(abs(solved.rates[2] - 1) < 1e-5)
    }

    @Test func inASwarmTheSeedsFlowsOutrunThePeersIntoTheSameReceiver() {
        // tcp_split.py's mesh: the seed sends to peers 1–8, every one of 16 peers to the 15 others. The peers' up
        // and down links are full, so a peer's flow meets four queues (its data's two, its acknowledgements' two)
        // and the seed's fewer (its down link carries acknowledgements only, and its 8 flows do not fill its up
        // link): measured 1.80–1.87× max-min for the seed's flows, which gives them a receiver's 1/16 as the peers'.
        let (data, acks, capacities, flows) = mesh(seedTo: 8) { _ in true }
        let solved = WindowShare.rates(data, acks: acks, capacities: capacities)
        let maxMin = FairShare.rates(data, capacities: capacities)
        #expect(solved.rounds < WindowShare.maxRounds)
        for receiver in 1...8 {
            let into = flows.indices.filter { flows[$0].receiver == receiver }
            let seed = into.first { flows[$0].sender == 0 }!
            let peers = into.filter { flows[$0].sender != 0 }
            #expect(abs(maxMin[seed] - peers.map { maxMin[$0] }.max()!) < 1e-9)
            let ratio = solved.rates[seed] / maxMin[seed]
            #expect(ratio > 1.7 && ratio < 1.9)
            #expect(solved.rates[seed] > 1.5 * peers.map { solved.rates[$0] }.max()!)
            // The receiver's down link is full, not over.
            let total = into.map { solved.rates[$0] }.reduce(0, +)
            #expect(abs(total - capacities[2 * receiver + 1]) < 1e-4 * total)
        }
    }

    /// tcp_split.py's mesh over the simulator's links: the seed (node 0) sends to peers 1…`seedTo`, and each of the
    /// 16 peers to every other for which `peersTo(sender + receiver)`; the flows' paths, the links' capacities, and
    /// each flow's ends in path order.
    private func mesh(
        seedTo seedReceivers: Int, peersTo: (Int) -> Bool
    ) -> (FlowPaths, FlowPaths, [Double], [(sender: Int, receiver: Int)]) {
        let configuration = SwarmSimulation.Configuration(
            peers: 16, fileBytes: 1 << 20, pieceBytes: 1 << 18, nodeRate: 100, seedRate: 100)
        let network = SimulatedNetwork(configuration: configuration)
        var data = FlowPaths()
        var acks = FlowPaths()
        var flows: [(sender: Int, receiver: Int)] = []
        for sender in 0...16 {
            for receiver in 1...16 where receiver != sender {
                guard sender == 0 ? receiver <= seedReceivers : peersTo(sender + receiver) else { continue }
                network.appendPath(from: sender, to: receiver, to: &data)
                network.appendPath(from: receiver, to: sender, to: &acks)
                flows.append((sender, receiver))
            }
        }
        return (data, acks, network.capacities, flows)
    }

    @Test func aWarmStartGivesTheColdStartsRates() {
        // The simulator starts each solve from the last one's prices. From those of another swarm (the seed to
        // all 16, the peers to half the others), with a stale price on the seed's down link (which no flow loads
        // now; its price would slow every seed flow through its acknowledgements), the mesh's rates must be the
        // cold start's.
        let (data, acks, capacities, _) = mesh(seedTo: 8) { _ in true }
        let cold = WindowShare.rates(data, acks: acks, capacities: capacities)
        let (otherData, otherAcks, _, _) = mesh(seedTo: 16) { $0 % 2 == 0 }
        var prices: [Double] = []
        _ = WindowShare.rates(otherData, acks: otherAcks, capacities: capacities, prices: &prices)
        prices[1] = 1
        let warm = WindowShare.rates(data, acks: acks, capacities: capacities, prices: &prices)
        #expect(cold.rounds < WindowShare.maxRounds && warm.rounds < WindowShare.maxRounds)
        #expect(prices[1] == 0)
        for (coldRate, warmRate) in zip(cold.rates, warm.rates) {
            #expect(abs(coldRate - warmRate) < 1e-6 * coldRate)
        }
        // Solved again from its own prices, it is settled at once.
        let again = WindowShare.rates(data, acks: acks, capacities: capacities, prices: &prices)
        #expect(again.rounds == 1)
    }

    @Test func theMeshSettlesInAFewSweeps() {
        // Each node's up and down link are paid by the same flows and solved as one price, and a Newton step
        // follows the third sweep: link by link, without the step, this took hundreds of sweeps.
        let (data, acks, capacities, _) = mesh(seedTo: 8) { _ in true }
        let solved = WindowShare.rates(data, acks: acks, capacities: capacities)
        #expect(solved.rounds <= 20)
    }

    @Test func aFlowAloneOnTwoFullLinksLeavesTheirSplitOpen() {
        // Flow 0 alone fills link 0 (its sender's up link) and link 3 (its receiver's down link, no pair with it);
        // flow 1's data crosses link 4 (capacity 10) and its acknowledgements link 3. Any p3 in [0.1, 1] with
        // p0 = 1 - p3 is an equilibrium, and flow 1 gets 1 / p3: the model leaves its rate open, and the solve
        // keeps the split it starts from.
        var data = FlowPaths()
        var acks = FlowPaths()
        data.append([0, 3])
        acks.append([])
        data.append([4])
        acks.append([3])
        let capacities: [Double] = [1, 1, 1, 1, 10]
        var fromDown: [Double] = [0.1, 0, 0, 0.9, 0]
        var fromUp: [Double] = [0.5, 0, 0, 0.5, 0]
        let down = WindowShare.rates(data, acks: acks, capacities: capacities, prices: &fromDown)
        let up = WindowShare.rates(data, acks: acks, capacities: capacities, prices: &fromUp)
        for solved in [down, up] {
            #expect(abs(solved.rates[0] - 1) < 1e-6)
            #expect(solved.rates[1] <= 10 * (1 + 1e-6))
        }
        #expect(abs(down.rates[1] - 1 / 0.9) < 1e-6)
        #expect(abs(up.rates[1] - 2) < 1e-6)
    }

    @Test func theLabSettingRunsToTheEndWithWindowSharing() {
        var configuration = SwarmSimulation.Configuration(
            peers: 4, fileBytes: 4 << 20, pieceBytes: 256 << 10, nodeRate: 5e6, seedRate: 5e6)
        configuration.sharing = .window
        let result = SwarmSimulation.run(configuration)
        #expect(result.finished == 4)
        #expect(result.seedEgressOverF >= 1)
        // No distribution beats the bound.
        #expect(result.makespan >= result.boundP2P)
    }
}
