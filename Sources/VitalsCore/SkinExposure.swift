#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// How bright the skin in view is against the brightness ``SkinModel``'s box was drawn for, in
/// half-stop steps: the scale at which the pipeline classifies skin (``SkinModel/dimmed(to:)``).
///
/// The classic box fits a face of ordinary skin in ordinary light. The darkest skin in good
/// light (a face near luma 35) and any face in a dim room sit at its luma floor and its grey
/// edge, so frame noise moves half their pixels out of it, or all of them: the face is not
/// found. Followed by its own brightness, the box takes it whole.
///
/// The brightness is the followed face's luma when there is a face, else the scene's (so a face
/// too dim to be found at all is looked for at the scene's level). It is smoothed over about half
/// a second, and the step moves only when the brightness is more than three quarters of a step
/// away from it, so the box stays put while a face is steady (each move shifts the face's mean
/// colour a little, which the pulse would see) and across a lamp's flicker or the camera's
/// exposure steps. Ordinary skin in ordinary light stays at step 0, the box as drawn.
public struct SkinExposure: Sendable, Hashable {
    /// Luma (full range, 0–255) of a face's skin in the light the box was drawn for.
    public static let faceReference = 90.0
    /// Mean luma (full range) of a scene in that light.
    public static let sceneReference = 100.0
    /// The darkest step: a quarter of the reference brightness (two stops).
    public static let darkestStep = 4

    /// Half-stops below the reference, 0…``darkestStep``.
    public private(set) var step = 0
    /// The brightness the box is scaled to, `2^(−step/2)`.
    public var scale: Double { pow(2, -Double(step) / 2) }
    /// Half-stops below the reference, smoothed.
    private var smoothed: Double?

    /// Steady at the reference.
    public init() {}

    /// Takes one frame's brightness: the followed face's luma (`nil` without a face) and the
    /// scene's mean luma, both full range (0: unknown). Returns whether the step moved.
    public mutating func update(faceLuma: Double?, sceneLuma: Double) -> Bool {
        let ratio = faceLuma.map { $0 / Self.faceReference } ?? sceneLuma / Self.sceneReference
        guard ratio > 0 else { return false }
        let stops = min(Double(Self.darkestStep), max(0, -2 * log2(ratio)))
        let level = smoothed.map { $0 + (stops - $0) / 15 } ?? stops
        smoothed = level
        guard abs(level - Double(step)) > 0.75 else { return false }
        step = Int(level.rounded())
        return true
    }
}
