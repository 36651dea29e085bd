import EchoCancellation
import Foundation
import TestSupport
import Testing

/// The reference's move against its echo, found to the sample with the echo path learned before
/// it: whichever way it moved, through a room's reverberation; not found in a microphone that
/// hears something else, nor in silence.
@Suite struct EchoLeadFinderTests {
    static let count = 3_200, taps = 800, search = EchoLeadFinder.search

    /// A room: a direct path 6 ms after the reference, then a decaying tail.
    static func path(seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var path = (0..<taps).map { Float(random.nextGaussian()) * 0.03 * exp(-Float($0) / 200) }
        path[96] += 0.3
        return path
    }

    /// What the microphone heard through `path` and the reference as placed `moved` samples off
    /// it (the finder's window), from speech-like bursts.
    static func heardAndPlaced(path: [Float], moved: Int, seed: UInt64) -> (heard: [Int16], placed: [Int16]) {
        let origin = taps + 2 * search
        let signal = EchoDelayEstimatorTests.bursts(samples: origin + count + 2 * search, seed: seed).map { $0 * 32_767 }
        let heard = (0..<count).map { n in
            var sum: Float = 0
            for (k, weight) in path.enumerated() { sum += weight * signal[origin + n - k] }
            return Int16(clamping: Int(sum.rounded()))
        }
        // placed[m] = signal[origin + m - moved], m from -(taps - 1) - search to count + search.
        let placed = (0..<(count + taps - 1 + 2 * search)).map { index in
            Int16(clamping: Int(signal[origin + index - (taps - 1) - search - moved].rounded()))
        }
        return (heard, placed)
    }

    @Test(arguments: [-50, -7, 0, 1, 26, 63])
    func findsHowFarTheReferenceMoved(moved: Int) throws {
        let path = Self.path(seed: 3)
        let (heard, placed) = Self.heardAndPlaced(path: path, moved: moved, seed: 5)
        let lead = try #require(EchoLeadFinder.find(path: path, microphone: heard, reference: placed))
        #expect(lead.shift == moved)
        #expect(lead.correlation > 0.99)
    }

    @Test func aMicrophoneHearingSomethingElseMatchesNoShift() throws {
        let path = Self.path(seed: 3)
        let (_, placed) = Self.heardAndPlaced(path: path, moved: 10, seed: 5)
        let (other, _) = Self.heardAndPlaced(path: path, moved: 0, seed: 99)
        let lead = try #require(EchoLeadFinder.find(path: path, microphone: other, reference: placed))
        #expect(lead.correlation < 0.3)
    }

    @Test func silenceHasNoLead() {
        let path = Self.path(seed: 3)
        let (heard, placed) = Self.heardAndPlaced(path: path, moved: 0, seed: 5)
        #expect(EchoLeadFinder.find(path: path, microphone: [Int16](repeating: 0, count: heard.count), reference: placed) == nil)
        #expect(EchoLeadFinder.find(path: path, microphone: heard, reference: [Int16](repeating: 0, count: placed.count)) == nil)
    }
}
