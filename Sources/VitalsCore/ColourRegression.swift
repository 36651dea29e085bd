/// Takes out of the face's colours what the skin mask's changing size does to them.
///
/// Pixels near the skin box's edges (the darkest of a dark face, the greyest of a dim one) cross
/// in and out of the mask from frame to frame with the camera's noise. They are not the face's
/// average colour, so each crossing moves the mean: on type VI skin under the idealised camera the
/// mean green followed the skin pixel count with a correlation of −0.95, and that, not the pixels'
/// own noise, was the mean's noise. The count's share of each channel is fitted on frame-to-frame
/// differences (where the mask's noise is and a pulse is not) and taken out.
///
/// Tried and left out: the scene's brightness fitted the same way (on the pulse band, under a lamp
/// seen around the face) raised coverage under a lamp on type V skin but let a skin-coloured
/// cabinet under a faint flicker through in 4 of 92 windows (`HeartRateAccuracyTests`).
enum ColourRegression {
    /// `colours` less each channel's least-squares fit on `regressor` (as long as `colours`): the
    /// coefficient fitted on both signals' frame-to-frame differences, applied to the regressor's
    /// deviation from its mean. Unchanged when the regressor does not change or the lengths differ.
    static func removing(_ regressor: [Double], from colours: [SIMD3<Double>]) -> [SIMD3<Double>] {
        guard colours.count > 2, regressor.count == colours.count else { return colours }
        var energy = 0.0
        var covariance = SIMD3<Double>.zero
        for i in 1..<colours.count {
            let change = regressor[i] - regressor[i - 1]
            energy += change * change
            covariance += (colours[i] - colours[i - 1]) * change
        }
        guard energy > 0 else { return colours }
        let slope = covariance / energy
        let mean = regressor.reduce(0, +) / Double(regressor.count)
        return zip(colours, regressor).map { colour, value in colour - slope * (value - mean) }
    }
}
