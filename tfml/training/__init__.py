"""Training: the fit helper, callbacks, seeds, strategies, run directories, atomic saving."""

from tfml.training.callbacks import AtomicCheckpoint, ImageSummary, ResumableBackup, StopOnDivergence
from tfml.training.fit import completed_epochs, fit, read_history
from tfml.training.metrics import PSNR, psnr
from tfml.training.runs import get_strategy, prepare_run_dir, set_seed, versions
from tfml.training.saving import atomic_write, save_model, save_weights, write_text
