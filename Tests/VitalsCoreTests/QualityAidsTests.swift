#if canImport(Glibc)
import Glibc
#endif
import Simulation
import Testing
import VitalsCore

/// The engine's quality aids, one at a time: Welch averaging, the flicker canceller, the
/// background sampler, and the camera model that makes the harder test video.
@Suite struct QualityAidsTests {
    @Test func averagingSegmentsSteadiesTheNoiseFloorNotTheTone() {
        // Noise alone: the mean of three half-overlapping 10 s segments' spectra has a steadier
        // floor, so its highest chance peak stands out less than one 10 s window's does; a tone
        // is still found where it is.
        var random = RandomSource(seed: 5)
        var single: [Double] = [], averaged: [Double] = []
        let range = 0.5...4.2
        func welch(_ x: [Double]) -> PowerSpectrum {
            PowerSpectrum(welchOf: x, segments: 3, sampleRate: 30, range: range)
        }
        for _ in 0..<30 {
            let noise = (0..<600).map { _ in random.gaussian() }
            single.append(PowerSpectrum(of: Array(noise[300...]), sampleRate: 30, range: range).peak(in: 0.7...4)!.snr)
            averaged.append(welch(noise).peak(in: 0.7...4)!.snr)
            let f = 0.8 + 2.5 * random.uniform(), phase = random.uniform() * 6
            let tone = noise.indices.map { noise[$0] + 0.45 * sin(2 * Double.pi * f * Double($0) / 30 + phase) }
            #expect(abs(welch(tone).peak(in: 0.7...4)!.frequency - f) * 60 < 2)
        }
        #expect(averaged.max()! < single.max()! - 2, "single \(single.max()!) averaged \(averaged.max()!)")
    }

    @Test func bloodMovesTheColoursTogetherGreenMost() {
        var random = RandomSource(seed: 11)
        let f = 1.3
        func trace(_ signature: SIMD3<Double>, noise: Double) -> [SIMD3<Double>] {
            (0..<600).map { i in
                let v = sin(2 * Double.pi * f * Double(i) / 30)
                return SIMD3(120, 90, 75) * (SIMD3(repeating: 1) - 0.003 * signature * v)
                    + SIMD3(random.gaussian(), random.gaussian(), random.gaussian()) * noise
            }
        }
        #expect(BloodSignature.matches(trace(SIMD3(0.43, 1, 0.69), noise: 0.05), frequency: f, sampleRate: 30))
        // A lamp moves every channel alike; a change in red alone is no pulse either.
        #expect(!BloodSignature.matches(trace(SIMD3(1, 1, 1), noise: 0.05), frequency: f, sampleRate: 30))
        #expect(!BloodSignature.matches(trace(SIMD3(1, 0.2, 0.1), noise: 0.05), frequency: f, sampleRate: 30))
        // Noise alone passes by chance in only a few trials.
        let passes = (0..<200).filter { _ in BloodSignature.matches(trace(.zero, noise: 1), frequency: f, sampleRate: 30) }.count
        #expect(passes < 40, "\(passes) of 200")
    }

    /// What MJPEG leaves of a pulse (its change of brightness, half its change of colour) still
    /// changes green most; the tones a cabinet's slow changes make through the blocks'
    /// quantisation moved blue or red most (docs/VITALS.md, "MJPEG").
    @Test func greenLeadsWhereBloodChangesTheColourEvenThroughMJPEG() {
        var random = RandomSource(seed: 13)
        let f = 1.3, mean = SIMD3<Double>(120, 90, 75)
        func trace(_ change: SIMD3<Double>) -> [SIMD3<Double>] {
            (0..<300).map { i in
                mean - change * sin(2 * Double.pi * f * Double(i) / 30) + SIMD3(random.gaussian(), random.gaussian(), random.gaussian()) * 0.02
            }
        }
        let blood = mean * SIMD3(0.43, 1, 0.69) * 0.003
        // BT.601: keep the brightness's change, halve the colour's.
        let luma = 0.299 * blood.x + 0.587 * blood.y + 0.114 * blood.z
        let halved = SIMD3(repeating: luma) + (blood - SIMD3(repeating: luma)) * 0.5
        #expect(BloodSignature.greenLeads(trace(blood), frequency: f, sampleRate: 30))
        #expect(BloodSignature.greenLeads(trace(halved), frequency: f, sampleRate: 30))
        #expect(!BloodSignature.greenLeads(trace(mean * SIMD3(0.3, 1, 1.4) * 0.003), frequency: f, sampleRate: 30))
        #expect(!BloodSignature.greenLeads(trace(mean * SIMD3(1.8, 1, 0.5) * 0.003), frequency: f, sampleRate: 30))
    }

    @Test func pbvAfterPOSReadsABrightnessPulseAndRefusesAToneThatIsNotBlood() throws {
        // MJPEG keeps a pulse's change of brightness and loses most of its change of colour. POS's
        // fixed projections null a change along the skin's own colour, so they lose what is left;
        // PBV's mix keeps it, and green still leads the change, as blood's does.
        let rate = 30.0, heartRate = 72.0, mean = SIMD3<Double>(120, 90, 75)
        /// 30 s of a face whose colour changes by `change` at the heart rate, in the camera's noise.
        func samples(_ change: SIMD3<Double>, seed: UInt64) -> [RegionSample] {
            var random = RandomSource(seed: seed)
            return (0..<(30 * 30)).map { i in
                let wave = sin(2 * Double.pi * heartRate / 60 * Double(i) / rate)
                let noise = SIMD3(random.gaussian(), random.gaussian(), random.gaussian()) * 0.03
                return RegionSample(facePresent: true, meanRGB: mean - change * wave + noise, skinPixels: 20_000, bounds: PixelRect(x: 0, y: 0, width: 160, height: 200))
            }
        }
        /// The share of the 10 s windows of four seeds (no longer window, no tracking) that
        /// report, and their worst error.
        func reading(_ change: SIMD3<Double>, method: PulseMethod = .pos, pbvAfterPOS: Bool) throws -> (share: Double, worst: Double) {
            var configuration = VitalsConfiguration()
            configuration.method = method
            configuration.triesPBVAfterPOS = pbvAfterPOS
            configuration.longWindowSeconds = 0
            configuration.lengthenedWindows = []
            configuration.trackingSeconds = 0
            let estimates = try (1...4).flatMap { try FaceTraces.estimates(samples(change, seed: $0), configuration) }
            let rates = estimates.compactMap(\.heartRate)
            return (Double(rates.count) / Double(max(1, estimates.count)), rates.map { abs($0 - heartRate) }.max() ?? 0)
        }
        // Every colour by nearly the same share, green 10% more.
        let brightness = mean * SIMD3(0.9, 1, 0.9) * 0.001
        let withPBV = try reading(brightness, pbvAfterPOS: true), posAlone = try reading(brightness, pbvAfterPOS: false)
        #expect(withPBV.share >= 0.9, "\(withPBV)")
        #expect(withPBV.worst <= 1.5, "\(withPBV)")
        #expect(posAlone.share <= 0.05, "\(posAlone)")

        // Red 10% more (what quantisation makes of a skin-coloured surface's noise): PBV's mix
        // holds it, the green check keeps it from being reported.
        let tone = mean * SIMD3(1.1, 1, 0.9) * 0.001
        let pbv = try reading(tone, method: .pbv, pbvAfterPOS: false), refused = try reading(tone, pbvAfterPOS: true)
        #expect(pbv.share >= 0.9, "\(pbv)")
        #expect(refused.share <= 0.05, "\(refused)")
    }

    @Test func aLampMovesEveryColourAlikeAndMoreThanAPulse() {
        var random = RandomSource(seed: 12)
        let f = 1.7
        func trace(_ change: SIMD3<Double>, noise: Double = 0.05) -> [SIMD3<Double>] {
            (0..<300).map { i in
                let v = sin(2 * Double.pi * f * Double(i) / 30)
                return SIMD3(120, 90, 75) * (SIMD3(repeating: 1) + change * v)
                    + SIMD3(random.gaussian(), random.gaussian(), random.gaussian()) * noise
            }
        }
        // White light 3% deep; a slightly warm lamp (red moves more, blue less) is a lamp too.
        #expect(LampSignature.matches(trace(SIMD3(repeating: 0.03)), frequency: f, sampleRate: 30))
        #expect(LampSignature.matches(trace(SIMD3(0.04, 0.03, 0.02)), frequency: f, sampleRate: 30))
        // A pulse, however strong, moves green twice as much as red; a faint white change is no lamp.
        #expect(!LampSignature.matches(trace(0.01 * SIMD3(0.43, 1, 0.69)), frequency: f, sampleRate: 30))
        #expect(!LampSignature.matches(trace(SIMD3(repeating: 0.002)), frequency: f, sampleRate: 30))
        // Nor is blue moving against red and green, or a change of red and green alone, or noise
        // strong enough to clear the size by itself.
        #expect(!LampSignature.matches(trace(SIMD3(0.03, 0.03, -0.03)), frequency: f, sampleRate: 30))
        #expect(!LampSignature.matches(trace(SIMD3(0.03, 0.03, 0)), frequency: f, sampleRate: 30))
        let passes = (0..<200).filter { _ in LampSignature.matches(trace(.zero, noise: 5), frequency: f, sampleRate: 30) }.count
        #expect(passes <= 4, "\(passes) of 200")
    }

    @Test func whatTheSkinMasksChangingSizeDoesToTheColourIsTakenOut() throws {
        // A dark face: pixels darker and greyer than its mean cross in and out of the mask with the
        // camera's noise, each moving the mean colour, by several times the pulse's size.
        var random = RandomSource(seed: 13)
        let rate = 30.0, heartRate = 75.0
        var samples: [RegionSample] = []
        for i in 0..<(40 * 30) {
            let t = Double(i) / rate
            let pulse = 0.002 * sin(2 * Double.pi * heartRate / 60 * t)
            let extra = 300 * random.gaussian()  // pixels more than the usual 20 000
            var colour = SIMD3(40.0, 26, 19) * (SIMD3(repeating: 1) - SIMD3(0.43, 1, 0.69) * pulse)
            colour += SIMD3(-4.0, 2.6, -1.9) * extra / 20_000 * 15
            // The pixels' own noise, independent in each channel (POS's mix can null one noise
            // direction, not two).
            colour += colour * 0.001 * SIMD3(random.gaussian(), random.gaussian(), random.gaussian())
            var sample = RegionSample(facePresent: true, meanRGB: colour, skinPixels: 20_000 + Int(extra), bounds: PixelRect(x: 0, y: 0, width: 160, height: 200))
            sample.backgroundLuma = 100
            samples.append(sample)
        }
        func coverage(cancelling: Bool) throws -> (share: Double, worst: Double) {
            var configuration = VitalsConfiguration()
            configuration.cancelsMaskChanges = cancelling
            // POS's windows, which the fit serves: PBV tried after POS nulls the mask's one
            // direction by itself (as the 20 s window's PBV does, below).
            configuration.triesPBVAfterPOS = false
            var analyzer = try VitalsAnalyzer(configuration: configuration)
            let estimates = samples.enumerated().flatMap { analyzer.add($1, at: Double($0) / rate) }
            let rates = estimates.compactMap(\.heartRate)
            return (Double(rates.count) / Double(max(1, estimates.count)), rates.map { abs($0 - heartRate) }.max() ?? 0)
        }
        let with = try coverage(cancelling: true), without = try coverage(cancelling: false)
        #expect(with.share >= 0.9, "\(with)")
        #expect(with.worst <= 1.5, "\(with)")
        // Without: POS's 10 s windows lose it (the mask's colour shift adds in POS's mix); only the
        // 20 s window's PBV, which nulls one noise direction, reads it once it has filled.
        #expect(without.share <= 0.7, "\(without)")
    }

    @Test func theFlickerCancellerRemovesWhatFollowsTheLampAndKeepsThePulse() {
        let rate = 30.0, n = 300
        let lamp = (0..<n).map { 100 * (1 + 0.1 * sin(2 * Double.pi * 1.0 * Double($0) / rate)) }
        // The leak is a delayed, scaled copy of the lamp's change; the pulse is at 1.4 Hz.
        let pulse = (0..<n).map { 0.002 * sin(2 * Double.pi * 1.4 * Double($0) / rate) }
        let leak = (0..<n).map { 0.01 * sin(2 * Double.pi * 1.0 * Double($0) / rate - 0.6) }
        let band = 0.7...4.0
        let filter = BandPass(band: 0.49...5, sampleRate: rate)
        let mixed = filter.apply(zip(pulse, leak).map(+), padding: 30)
        let cleaned = FlickerCanceller(reference: lamp, sampleRate: rate, band: band).cancel(from: mixed)
        let before = PowerSpectrum(of: mixed, sampleRate: rate, range: 0.5...4.2).peak(in: band)!
        let after = PowerSpectrum(of: cleaned, sampleRate: rate, range: 0.5...4.2).peak(in: band)!
        #expect(abs(before.frequency - 1.0) < 0.05)
        #expect(abs(after.frequency - 1.4) < 0.05)
        #expect(after.snr > 5)
    }

    @Test func theCancellerTakesALaggingLeakOutToTheWindowsEnds() {
        // A face that follows the lamp with a lag and nothing else: the leak is in the span of the
        // reference and its derivative, so after the fit next to nothing of it may be left, not
        // even where the band-pass's padding shapes the signal (the window's first and last
        // second). The lamp starts and ends off its zero crossing, where the one-sided derivative
        // at the ends is only close (the derivative of the band-passed reference left 1.5% of the
        // leak overall, 17% in the first second, 1.4% in the last).
        let rate = 30.0, n = 300
        let lamp = (0..<n).map { 100 * (1 + 0.1 * sin(2 * Double.pi * 1.0 * Double($0) / rate + 1)) }
        let leak = (0..<n).map { 0.01 * sin(2 * Double.pi * 1.0 * Double($0) / rate + 1 - 0.6) }
        let mixed = BandPass(band: 0.49...5, sampleRate: rate).apply(leak, padding: 30)
        let cleaned = FlickerCanceller(reference: lamp, sampleRate: rate, band: 0.7...4).cancel(from: mixed)
        let energy = { (x: ArraySlice<Double>) in x.map { $0 * $0 }.reduce(0, +) }
        #expect(energy(cleaned[...]) < 1e-3 * energy(mixed[...]), "\(energy(cleaned[...]) / energy(mixed[...]))")
        #expect(energy(cleaned.prefix(30)) < 2e-3 * energy(mixed.prefix(30)), "\(energy(cleaned.prefix(30)) / energy(mixed.prefix(30)))")
        #expect(energy(cleaned.suffix(30)) < 2e-3 * energy(mixed.suffix(30)), "\(energy(cleaned.suffix(30)) / energy(mixed.suffix(30)))")
    }

    @Test func withTheHarmonicTheCancellerAlsoTakesWhatAGammaCurveMakesOfADeepLamp() {
        // A 30% deep lamp at 1 Hz: the background's brightness is linear in it, the face's goes
        // through a gamma curve (with a lag), which adds the lamp's harmonic at 2 Hz, stronger
        // than the 1.4 Hz pulse. Over 20 s the square of the reference takes most of the
        // harmonic out and leaves the pulse.
        let rate = 30.0, n = 600
        let lamp = (0..<n).map { 100 * (1 + 0.3 * sin(2 * Double.pi * Double($0) / rate)) }
        let leak = (0..<n).map { pow(1 + 0.3 * sin(2 * Double.pi * Double($0) / rate - 0.6), 0.45) }
        let pulse = (0..<n).map { 0.002 * sin(2 * Double.pi * 1.4 * Double($0) / rate) }
        let band = 0.7...4.0
        let mixed = BandPass(band: 0.49...5, sampleRate: rate).apply(zip(pulse, leak).map(+), padding: 30)
        func powerNear(_ frequency: Double, _ x: [Double]) -> Double {
            let spectrum = PowerSpectrum(of: x, sampleRate: rate, range: 0.5...4.2)
            return zip(spectrum.frequencies, spectrum.power).filter { abs($0.0 - frequency) < 0.05 }.map(\.1).max() ?? 0
        }
        let linear = FlickerCanceller(reference: lamp, sampleRate: rate, band: band).cancel(from: mixed)
        let withHarmonic = FlickerCanceller(reference: lamp, sampleRate: rate, band: band, fitsHarmonic: true).cancel(from: mixed)
        #expect(powerNear(2, withHarmonic) < 0.25 * powerNear(2, linear), "\(powerNear(2, withHarmonic)), \(powerNear(2, linear))")
        #expect(powerNear(1.4, withHarmonic) > 0.9 * powerNear(1.4, mixed))
    }

    @Test func withoutFlickerTheCancellerLeavesThePulseAlone() {
        var random = RandomSource(seed: 8)
        let rate = 30.0
        let steadyLamp = (0..<300).map { _ in 100 + 0.05 * random.gaussian() }
        let pulse = BandPass(band: 0.49...5, sampleRate: rate).apply((0..<300).map { sin(2 * Double.pi * 1.2 * Double($0) / rate) }, padding: 30)
        let cleaned = FlickerCanceller(reference: steadyLamp, sampleRate: rate, band: 0.7...4).cancel(from: pulse)
        let energy = { (x: [Double]) in x.map { $0 * $0 }.reduce(0, +) }
        #expect(energy(cleaned) > 0.97 * energy(pulse))
    }

    @Test func theBackgroundSamplerLeavesTheFaceOut() throws {
        // A bright square "face" on a darker wall: the wall's luma, not the mix.
        let (w, h) = (320, 240)
        var rgb = [UInt8](repeating: 60, count: w * h * 3)
        for y in 80..<160 { for x in 120..<200 { for c in 0..<3 { rgb[3 * (y * w + x) + c] = 200 } } }
        let frame = FrameEncoder.encode(rgb: rgb, width: w, height: h, as: .yuyv, range: .full)
        let sampler = BackgroundLight(geometry: FrameGeometry(width: w, height: h, format: .yuyv))
        let face = PixelRect(x: 120, y: 80, width: 80, height: 80)
        let outside = frame.withUnsafeBytes { sampler.meanLuma($0, outside: face) }
        let whole = frame.withUnsafeBytes { sampler.meanLuma($0, outside: nil) }
        #expect(abs(outside - 60) < 1)
        #expect(whole > 70)
    }

    @Test func theScenesLevelFollowsTheLightNotTheFacesBox() throws {
        // A wall lit from below (luma 60 at the top to 160 at the bottom) and a bright face whose
        // box moves up and down by 16 pixels every few frames, as a talking patient's does; then
        // the light rises by 5%.
        let (w, h) = (320, 240)
        func frame(faceTop: Int, light: Double) -> [UInt8] {
            var rgb = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<h {
                let wall = 60 + 100 * Double(y) / Double(h - 1)
                for x in 0..<w {
                    let inFace = x >= 120 && x < 200 && y >= faceTop && y < faceTop + 80
                    for c in 0..<3 { rgb[3 * (y * w + x) + c] = UInt8((light * (inFace ? 200 : wall)).rounded()) }
                }
            }
            return FrameEncoder.encode(rgb: rgb, width: w, height: h, as: .yuyv, range: .full)
        }
        var sampler = BackgroundLight(geometry: FrameGeometry(width: w, height: h, format: .yuyv))
        var readings: [BackgroundLight.Reading] = []
        for i in 0..<40 {
            let top = 64 + ((i / 3) % 2 == 0 ? 0 : 16)
            let bytes = frame(faceTop: top, light: i < 21 ? 1 : 1.05)
            readings.append(bytes.withUnsafeBytes { sampler.read($0, outside: PixelRect(x: 120, y: top, width: 80, height: 80)) })
        }
        let steady = readings[0..<21]
        let means = steady.map(\.meanLuma), levels = steady.map(\.level)
        // The plain mean moves with the box by about 1%; the level does not move.
        #expect(means.max()! / means.min()! > 1.005, "\(means)")
        #expect(levels.max()! / levels.min()! < 1.001, "\(levels)")
        // The light rises by 5% in the frame where the box moves: the level rises by that, the
        // mean does not.
        let rise = readings[21].level / readings[20].level
        #expect(abs(rise - 1.05) < 0.002, "\(rise)")
        let meanRise = readings[21].meanLuma / readings[20].meanLuma
        #expect(abs(meanRise - 1.05) > 0.005, "\(meanRise)")
    }

    @Test(arguments: [
        PixelRect(x: -40, y: -30, width: 100, height: 100), PixelRect(x: 250, y: 180, width: 120, height: 100),
        PixelRect(x: 400, y: 300, width: 50, height: 50), PixelRect(x: 3, y: 5, width: 301, height: 227),
        PixelRect(x: 121, y: 77, width: 0, height: 90), PixelRect(x: 118, y: 70, width: 85, height: 95),
    ])
    func theSamplersMeanIsThePlainMeanOfTheLatticeOutsideTheBox(face: PixelRect) throws {
        // A textured wall with dark and clipped patches, read point by point by the rule the
        // sampler states: every 8th pixel of every 8th row from (4, 4), luma 20–240, outside the
        // box grown by a quarter on each side.
        let (w, h) = (318, 238)
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let v = (x * 7 + y * 13) % 251
                for c in 0..<3 { rgb[3 * (y * w + x) + c] = UInt8(v) }
            }
        }
        let frame = FrameEncoder.encode(rgb: rgb, width: w, height: h, as: .yuyv, range: .full)
        let geometry = FrameGeometry(width: w, height: h, format: .yuyv)
        let (gx, gy) = (face.width / 4, face.height / 4)
        let grown = PixelRect(x: face.x - gx, y: face.y - gy, width: face.width + 2 * gx, height: face.height + 2 * gy)
        var sum = 0, count = 0
        for y in stride(from: 4, to: h, by: 8) {
            for x in stride(from: 4, to: w, by: 8) {
                let inside = face.width > 0 && x >= grown.x && x < grown.x + grown.width && y >= grown.y && y < grown.y + grown.height
                let v = Int(frame[y * geometry.bytesPerLine + 2 * x])
                if !inside, v >= 20, v <= 240 { (sum, count) = (sum + v, count + 1) }
            }
        }
        let expected = count >= 16 ? Double(sum) / Double(count) : 0
        // The same reading in a stream, after the same frame with the box elsewhere.
        let elsewhere = PixelRect(x: 10, y: 10, width: 60, height: 60)
        var sampler = BackgroundLight(geometry: geometry)
        let first = frame.withUnsafeBytes { sampler.read($0, outside: elsewhere) }
        let reading = frame.withUnsafeBytes { sampler.read($0, outside: face) }
        #expect(reading.meanLuma == expected)
        #expect(frame.withUnsafeBytes { BackgroundLight(geometry: geometry).meanLuma($0, outside: face) } == expected)
        // The light did not change, so the level only moved by the pull towards the new mean.
        let level = expected > 0 ? first.level + (expected - first.level) * BackgroundLight.meanPull : 0
        #expect(abs(reading.level - level) < 1e-9, "\(reading) against \(level)")
    }

    @Test func theCameraExposesForTheSceneAndItsNoiseGrowsWithTheSignal() {
        let camera = CameraModel.kioskWebcam
        // Bright room and dim corner: exposure brings the scene to the same level until the
        // gain runs out; dimmer light needs more gain.
        let bright = camera.settings(lux: Array(repeating: 500, count: 120), frameRate: 30, phases: .zero)
        let dim = camera.settings(lux: Array(repeating: 30, count: 120), frameRate: 30, phases: .zero)
        let level = { (s: CameraModel.Setting, lux: Double) in camera.sceneReflectance * lux / camera.saturationLux * s.exposure * s.gain }
        #expect(abs(level(bright.last!, 500) / camera.exposureTarget - 1) < 0.1)
        #expect(dim.last!.gain > 5 * bright.last!.gain)
        // Shot noise: the spread of a brighter pixel is larger in absolute terms, smaller relative to it.
        var random = RandomSource(seed: 3)
        func spread(_ radiance: Float) -> (mean: Float, sd: Float) {
            let v = (0..<4000).map { _ in
                camera.expose(SIMD3(repeating: radiance), electronsPerUnit: 2000, gain: 1, whiteBalance: SIMD3(repeating: 1), random: &random).y
            }
            let mean = v.reduce(0, +) / Float(v.count)
            return (mean, (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot())
        }
        let (low, high) = (spread(0.05), spread(0.6))
        #expect(high.mean > low.mean)
        #expect(high.sd / high.mean < low.sd / low.mean)
    }
}
