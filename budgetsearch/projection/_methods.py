"""The ways a trained dense layer is projected, named without torch (a study file or a command line names one)."""

# closed: each family's closed form; fit: least squares on the layer's outputs; whitened: SVD weighted
# by the inputs' second moment (see the package's table)
METHODS = ("closed", "fit", "whitened")
