/// The mutation fuzz suite: every parser that reads bytes from outside the process, fed
/// thousands of damaged copies of valid inputs, inside `swift test`.
///
/// **What it checks.** For each target (``FuzzTarget``: `y4m`, `wav`, `mjpeg`, `session`,
/// `control`) and each seed file in `Tests/FuzzTests/Corpus/<target>/`, the seed is first run
/// as it is (it must be accepted: a corpus of refused files fuzzes only the first check), then
/// mutated copies are run. Every input must either produce a value or throw the parser's
/// documented error type (``MediaFileError``, `DeviceError`, `APIError`, `DecodingError`, ...);
/// any other error, a broken property (a frame of the wrong size, lines that are not the input
/// split at its newlines) or an input that takes longer than the time bound (2 s) fails the
/// test, naming the target, seed and iteration and printing the input as base64. A trap (a
/// crash) cannot be reported by the process it kills: before each input the harness writes it to
/// a file whose path it prints when the target starts, so the input that killed the run is there.
/// Memory runaways are not measured: the parsers refuse sizes they cannot use.
///
/// **Deterministic.** The generator is SplitMix64 seeded from the target's name, the seed's index
/// and the iteration (no Foundation or system randomness), so a run is repeatable and one
/// iteration can be regenerated without the others.
///
/// **Mutations** (1 to 4 stacked per input, sometimes up to 16): bit flip; a byte set to an
/// interesting value (0, 1, 0x7F, 0x80, 0xFF) or a random one; insertion of a run of random or
/// repeated bytes; deletion of a run; duplication of a chunk; splicing with another seed of the
/// target; 1-, 2- and 4-byte little- and big-endian integers overwritten with interesting values
/// (0, 1, -1, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 0x80000000, large) or nudged by ±1…16; a decimal
/// number in the text replaced by an interesting one (`2147483648`, `1e999`, `-0`, ...); a token
/// of the target's dictionary (`FRAME`, `fmt `, JPEG markers, JSON keys) inserted or written over;
/// truncation.
///
/// **Settings** (environment): `HH_FUZZ_ITERATIONS` mutated inputs per target (default 20000,
/// shared among its seeds), `HH_FUZZ_SEED` to explore other inputs (default fixed),
/// `HH_FUZZ_TIME_LIMIT_S` the bound per input in seconds (default 2; for debug builds).
///
/// **Regressions.** Every file in `Tests/FuzzTests/Regressions/<target>/` is run once as it is
/// (see the README there): paste a failure's base64 into a file there to keep it fixed.
/// `scripts/fuzz-corpus.py` writes the seed corpora and the media regression files.
import Foundation
import TestSupport

extension SplitMix64 {
    /// A generator for one input: the target, the seed's index and the iteration mixed so that
    /// neighbouring iterations start far apart.
    init(base: UInt64, target: String, seedIndex: Int, iteration: Int) {
        var mixer = SplitMix64(seed: base ^ SplitMix64.fnv1a(target))
        mixer.state ^= UInt64(truncatingIfNeeded: seedIndex) &* 0xD1B5_4A32_D192_ED03
        _ = mixer.next()
        mixer.state ^= UInt64(truncatingIfNeeded: iteration) &* 0x8CB9_2BA7_2F3D_8DD7
        self.init(seed: mixer.next())
    }

    /// A number in `0..<bound` (`bound` > 0), by multiply-shift: the bias is below 2⁻³² for
    /// the bounds used here.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// True `numerator` times in `denominator`.
    mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { below(denominator) < numerator }

    /// An element of a non-empty array.
    mutating func element<T>(of array: [T]) -> T { array[below(array.count)] }

    /// FNV-1a of the UTF-8 of `text`: a stable hash (`Hasher` is seeded per process).
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// Makes damaged copies of valid inputs.
struct Mutator {
    /// The target's seeds (for splicing).
    let corpus: [[UInt8]]
    /// Tokens of the target's format, inserted or written over.
    let dictionary: [[UInt8]]
    /// No input grows past this many bytes.
    let maximumSize: Int

    static let interestingBytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFF]
    /// Written as 1, 2 or 4 bytes (truncated), little- or big-endian.
    static let interestingIntegers: [UInt64] = [
        0, 1, 0xFFFF_FFFF_FFFF_FFFF /* -1 */, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x1_0000, 0x8000_0000,
        0x7FFF, 0x8000, 0xFFFF, 0x100, 0x10, 0x40, 0x4000_0000, 0x7FFF_FFFF_FFFF_FFFF,
    ]
    /// Numbers written over a decimal number in text formats.
    static let interestingDecimals: [String] = [
        "0", "1", "-1", "-0", "2", "16", "255", "256", "65535", "65536", "99999", "1000000", "1000001",
        "2147483647", "2147483648", "-2147483649", "4294967295", "4294967296", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "1e308", "1e999", "-1e999",
        "1e-400", "0.1", "0.0000001", "1.5", "00", "007", "NaN", "Infinity", "",
    ]

    enum Kind: CaseIterable {
        case bitFlip, interestingByte, randomByte, insertRun, deleteRun, duplicateChunk, splice
        case interestingInteger, nudgeInteger, interestingDecimal, dictionaryToken, truncate
    }

    init(corpus: [[UInt8]], dictionary: [[UInt8]], maximumSize: Int) {
        self.corpus = corpus
        self.dictionary = dictionary
        self.maximumSize = max(1, maximumSize)
    }

    /// A damaged copy of `input`, and the mutations made (for the failure message).
    func mutate(_ input: [UInt8], using random: inout SplitMix64) -> (bytes: [UInt8], steps: [String]) {
        var bytes = input
        var steps: [String] = []
        let count = random.chance(1, in: 8) ? 1 + random.below(16) : 1 + random.below(4)
        for _ in 0..<count {
            let kind = random.element(of: Kind.allCases)
            steps.append(apply(kind, to: &bytes, using: &random))
            if bytes.count > maximumSize { bytes.removeLast(bytes.count - maximumSize) }
        }
        return (bytes, steps)
    }

    /// Applies one mutation; returns what it did, e.g. `bitFlip@12.3`.
    func apply(_ kind: Kind, to bytes: inout [UInt8], using random: inout SplitMix64) -> String {
        switch kind {
        case .bitFlip:
            guard !bytes.isEmpty else { return apply(.insertRun, to: &bytes, using: &random) }
            let at = random.below(bytes.count), bit = random.below(8)
            bytes[at] ^= UInt8(1) << UInt8(bit)
            return "bitFlip@\(at).\(bit)"
        case .interestingByte:
            guard !bytes.isEmpty else { return apply(.insertRun, to: &bytes, using: &random) }
            let at = random.below(bytes.count), value = random.element(of: Self.interestingBytes)
            bytes[at] = value
            return "byte@\(at)=\(value)"
        case .randomByte:
            guard !bytes.isEmpty else { return apply(.insertRun, to: &bytes, using: &random) }
            let at = random.below(bytes.count), value = UInt8(truncatingIfNeeded: random.next())
            bytes[at] = value
            return "byte@\(at)=\(value)"
        case .insertRun:
            let at = random.below(bytes.count + 1)
            let long = random.chance(1, in: 8)
            let length = 1 + random.below(long ? 1024 : 32)
            let run: [UInt8]
            if random.chance(1, in: 2) {
                run = [UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: length)
            } else {
                run = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            bytes.insert(contentsOf: run, at: at)
            return "insert@\(at)+\(length)"
        case .deleteRun:
            guard !bytes.isEmpty else { return apply(.insertRun, to: &bytes, using: &random) }
            let at = random.below(bytes.count)
            let length = 1 + random.below(min(bytes.count - at, 64))
            bytes.removeSubrange(at..<(at + length))
            return "delete@\(at)-\(length)"
        case .duplicateChunk:
            guard !bytes.isEmpty else { return apply(.insertRun, to: &bytes, using: &random) }
            let from = random.below(bytes.count)
            let length = 1 + random.below(min(bytes.count - from, 256))
            let chunk = Array(bytes[from..<(from + length)])
            let at = random.below(bytes.count + 1)
            bytes.insert(contentsOf: chunk, at: at)
            return "duplicate@\(from)+\(length)->\(at)"
        case .splice:
            guard !corpus.isEmpty else { return apply(.duplicateChunk, to: &bytes, using: &random) }
            let index = random.below(corpus.count)
            let other = corpus[index]
            let cut = random.below(bytes.count + 1), otherCut = random.below(other.count + 1)
            bytes = Array(bytes[..<cut]) + Array(other[otherCut...])
            return "splice@\(cut)<-seed\(index)@\(otherCut)"
        case .interestingInteger, .nudgeInteger:
            let width = random.element(of: [1, 2, 4])
            guard bytes.count >= width else { return apply(.insertRun, to: &bytes, using: &random) }
            let at = random.below(bytes.count - width + 1)
            let bigEndian = random.chance(1, in: 2)
            let value: UInt64
            if kind == .interestingInteger {
                value = random.element(of: Self.interestingIntegers)
            } else {
                let old = Self.readInteger(bytes, at: at, width: width, bigEndian: bigEndian)
                let delta = UInt64(1 + random.below(16))
                value = random.chance(1, in: 2) ? old &+ delta : old &- delta
            }
            Self.writeInteger(value, into: &bytes, at: at, width: width, bigEndian: bigEndian)
            return "\(kind == .interestingInteger ? "int" : "nudge")\(width * 8)\(bigEndian ? "be" : "le")@\(at)=0x\(String(value, radix: 16))"
        case .interestingDecimal:
            let replacement = Array(random.element(of: Self.interestingDecimals).utf8)
            guard let range = Self.decimalNumber(in: bytes, from: bytes.isEmpty ? 0 : random.below(bytes.count)) else {
                let at = random.below(bytes.count + 1)
                bytes.insert(contentsOf: replacement, at: at)
                return "decimal@\(at)+\(String(decoding: replacement, as: UTF8.self))"
            }
            bytes.replaceSubrange(range, with: replacement)
            return "decimal@\(range.lowerBound)=\(String(decoding: replacement, as: UTF8.self))"
        case .dictionaryToken:
            guard !dictionary.isEmpty else { return apply(.interestingByte, to: &bytes, using: &random) }
            let token = random.element(of: dictionary)
            let at = random.below(bytes.count + 1)
            if random.chance(1, in: 2) || at + token.count > bytes.count {
                bytes.insert(contentsOf: token, at: at)
                return "token@\(at)+\(token.count)"
            }
            bytes.replaceSubrange(at..<(at + token.count), with: token)
            return "token@\(at)=\(token.count)"
        case .truncate:
            guard !bytes.isEmpty else { return "truncate(empty)" }
            let keep = random.below(bytes.count)
            bytes.removeLast(bytes.count - keep)
            return "truncate@\(keep)"
        }
    }

    /// The first run of ASCII digits (with a leading `-`) at or after `start`, wrapping around.
    static func decimalNumber(in bytes: [UInt8], from start: Int) -> Range<Int>? {
        guard !bytes.isEmpty else { return nil }
        func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
        for offset in 0..<bytes.count {
            let index = (start + offset) % bytes.count
            guard isDigit(bytes[index]) else { continue }
            var lower = index, upper = index
            while lower > 0, isDigit(bytes[lower - 1]) { lower -= 1 }
            if lower > 0, bytes[lower - 1] == UInt8(ascii: "-") { lower -= 1 }
            while upper < bytes.count, isDigit(bytes[upper]) || bytes[upper] == UInt8(ascii: ".") { upper += 1 }
            return lower..<upper
        }
        return nil
    }

    static func readInteger(_ bytes: [UInt8], at: Int, width: Int, bigEndian: Bool) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<width {
            let byte = UInt64(bytes[at + (bigEndian ? i : width - 1 - i)])
            value = value << 8 | byte
        }
        return value
    }

    static func writeInteger(_ value: UInt64, into bytes: inout [UInt8], at: Int, width: Int, bigEndian: Bool) {
        for i in 0..<width {
            let byte = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))
            bytes[at + (bigEndian ? width - 1 - i : i)] = byte
        }
    }
}

/// One input given to a target.
struct FuzzInput {
    /// The bytes.
    var bytes: [UInt8]
    /// A file holding exactly ``bytes`` (for the readers that open a path).
    var path: String
    /// The seed or regression file it came from (the MJPEG target reads the frame size from it).
    var origin: String
    /// A number for the target's own choices (how the control socket's bytes arrive in pieces);
    /// 0 for seeds and regression files.
    var salt: UInt64
}

/// What a target made of an input.
enum Verdict: Equatable {
    /// A value: the input is valid.
    case accepted
    /// The parser's documented error, with its message.
    case refused(String)
    /// Anything else: an undocumented error or a broken property. A failure.
    case wrong(String)
}

/// A property of a parser's result that does not hold (reported as ``Verdict/wrong(_:)``).
struct PropertyViolation: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`: accepted when it returns, refused when it throws `Refusal`, wrong otherwise.
func verdict<Refusal: Error>(refusing _: Refusal.Type, _ body: () throws -> Void) -> Verdict {
    do {
        try body()
        return .accepted
    } catch let error as Refusal {
        return .refused("\(error)")
    } catch {
        return .wrong("threw \(type(of: error)) (not \(Refusal.self)): \(error)")
    }
}

/// A parser under test.
struct FuzzTarget {
    /// The folder name under `Corpus/` and `Regressions/`.
    var name: String
    /// Tokens of its format.
    var dictionary: [[UInt8]] = []
    /// The largest input made.
    var maximumSize = 64 * 1024
    /// Runs one input.
    var check: (FuzzInput) -> Verdict
}

/// Loads corpora, runs targets, collects failures.
enum FuzzHarness {
    /// `Tests/FuzzTests`.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Mutated inputs per target (`HH_FUZZ_ITERATIONS`, default 20000).
    static var iterations: Int { environment["HH_FUZZ_ITERATIONS"].flatMap { Int($0) }.map { max(0, $0) } ?? 20_000 }

    /// The base of every generator (`HH_FUZZ_SEED`, decimal or 0x-hex).
    static var baseSeed: UInt64 {
        guard let text = environment["HH_FUZZ_SEED"] else { return 0x4848_5F46_555A_5A21 }
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) ?? 0 }
        return UInt64(text) ?? SplitMix64.fnv1a(text)
    }

    /// The most one input may take (`HH_FUZZ_TIME_LIMIT_S`, default 2 s).
    static var timeLimit: Duration {
        let seconds = environment["HH_FUZZ_TIME_LIMIT_S"].flatMap { Double($0) } ?? 2
        return .milliseconds(Int64(max(0.001, seconds) * 1000))
    }

    /// Failures recorded per run before the run stops (each prints its input).
    static let maximumFailures = 10

    /// The files of `folder` (relative to `Tests/FuzzTests`), by name, without dot files and
    /// README files; empty when the folder does not exist.
    static func files(in folder: String) -> [(name: String, bytes: [UInt8])] {
        let url = directory.appendingPathComponent(folder)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return [] }
        return names.sorted().compactMap { (name: String) -> (name: String, bytes: [UInt8])? in
            guard !name.hasPrefix("."), !name.lowercased().hasPrefix("readme") else { return nil }
            guard let data = FileManager.default.contents(atPath: url.appendingPathComponent(name).path) else { return nil }
            return (name, [UInt8](data))
        }
    }

    /// What a run did.
    struct Report {
        var inputs = 0
        var accepted = 0
        var refused = 0
        var slowest: Duration = .zero
        var failures: [String] = []
    }

    /// Runs every seed of `target` as it is (each must be accepted), then `iterations` mutated
    /// inputs shared among the seeds.
    static func fuzz(_ target: FuzzTarget) -> Report {
        let seeds = files(in: "Corpus/\(target.name)")
        var report = Report()
        guard !seeds.isEmpty else {
            report.failures.append("fuzz \(target.name): no seed files in Tests/FuzzTests/Corpus/\(target.name)")
            return report
        }
        let breadcrumb = breadcrumbPath(target.name, "fuzz")
        print("fuzz \(target.name): \(seeds.count) seeds, \(iterations) mutated inputs; if the process dies, the input that killed it is in \(breadcrumb)")
        for seed in seeds {
            let verdict = run(target, FuzzInput(bytes: seed.bytes, path: breadcrumb, origin: seed.name, salt: 0), label: "seed \(seed.name) as it is", into: &report)
            if case .refused(let reason) = verdict {
                report.failures.append("fuzz \(target.name): seed \(seed.name) is refused as it is (\(reason)); seeds must be valid inputs")
            }
        }
        let mutator = Mutator(corpus: seeds.map { $0.bytes }, dictionary: target.dictionary, maximumSize: target.maximumSize)
        let perSeed = iterations == 0 ? 0 : max(1, (iterations + seeds.count - 1) / seeds.count)
        let base = baseSeed
        fuzzing: for (seedIndex, seed) in seeds.enumerated() {
            for iteration in 0..<perSeed {
                var random = SplitMix64(base: base, target: target.name, seedIndex: seedIndex, iteration: iteration)
                let (bytes, steps) = mutator.mutate(seed.bytes, using: &random)
                let input = FuzzInput(bytes: bytes, path: breadcrumb, origin: seed.name, salt: random.next())
                let label = "seed \(seed.name) iteration \(iteration) (HH_FUZZ_SEED=0x\(String(base, radix: 16)); mutations \(steps.joined(separator: ", ")))"
                run(target, input, label: label, into: &report)
                if report.failures.count >= maximumFailures { break fuzzing }
            }
        }
        try? FileManager.default.removeItem(atPath: breadcrumb)
        return report
    }

    /// Runs every file of `Regressions/<target>/` once as it is.
    static func replayRegressions(_ target: FuzzTarget) -> Report {
        var report = Report()
        let breadcrumb = breadcrumbPath(target.name, "regressions")
        for file in files(in: "Regressions/\(target.name)") {
            run(target, FuzzInput(bytes: file.bytes, path: breadcrumb, origin: file.name, salt: 0), label: "regression file \(file.name)", into: &report)
        }
        try? FileManager.default.removeItem(atPath: breadcrumb)
        return report
    }

    /// Runs one input, timing it; records a failure for a wrong verdict or a slow input.
    @discardableResult
    static func run(_ target: FuzzTarget, _ input: FuzzInput, label: String, into report: inout Report) -> Verdict {
        do {
            try Data(input.bytes).write(to: URL(fileURLWithPath: input.path))
        } catch {
            report.failures.append("fuzz \(target.name): cannot write \(input.path): \(error)")
            return .wrong("cannot write the input")
        }
        var verdict = Verdict.accepted
        let elapsed = ContinuousClock().measure { verdict = target.check(input) }
        report.inputs += 1
        report.slowest = max(report.slowest, elapsed)
        switch verdict {
        case .accepted: report.accepted += 1
        case .refused: report.refused += 1
        case .wrong(let what):
            report.failures.append(failure(target, label, "\(what)", input.bytes))
        }
        if elapsed > timeLimit {
            report.failures.append(failure(target, label, "took \(elapsed) (the bound is \(timeLimit))", input.bytes))
        }
        return verdict
    }

    /// A failure message with the input as base64, ready to commit as a regression file.
    static func failure(_ target: FuzzTarget, _ label: String, _ what: String, _ bytes: [UInt8]) -> String {
        """
        fuzz \(target.name): \(label): \(what)
        input (\(bytes.count) bytes; keep it with `echo <base64> | base64 -d > Tests/FuzzTests/Regressions/\(target.name)/<name>`):
        \(Data(bytes).base64EncodedString())
        """
    }

    /// Where the input being run is written: per target, run kind and process (tests run in
    /// parallel).
    static func breadcrumbPath(_ target: String, _ kind: String) -> String {
        NSTemporaryDirectory() + "hh-fuzz-\(target)-\(kind)-\(ProcessInfo.processInfo.processIdentifier).input"
    }
}
