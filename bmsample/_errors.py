"""The exceptions that end a training run, importable without NumPy or Numba (the CLI catches them)."""


class TrainingDiverged(RuntimeError):
    """Parameters became NaN or inf or ran away, or the sampler became unstable.

    The message names the update, the offending quantity and the last good checkpoint.
    """


class TrainingPreempted(RuntimeError):
    """SIGTERM or SIGINT stopped training after writing a checkpoint.

    Attributes ``signal_name``, ``update`` and ``checkpoint`` (its path).
    """

    def __init__(self, signal_name, update, checkpoint):
        super().__init__(f"{signal_name} at update {update}: wrote checkpoint {checkpoint}")
        self.signal_name = signal_name
        self.update = update
        self.checkpoint = checkpoint
