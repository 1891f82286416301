"""Training: the fit helper with exact resume, callbacks, seeds, strategies, run directories, atomic saving."""

from tfml.training.callbacks import AtomicCheckpoint, EpochMetrics, ImageSummary, ResumableBackup, StopOnDivergence
from tfml.training.fit import completed_epochs, fit, progress_verbosity, read_history
from tfml.training.metrics import PSNR, psnr
from tfml.training.runs import get_strategy, is_chief, is_tfml_run, loopback_tf_configs, prepare_run_dir, set_seed, update_run_record, versions, worker_task
from tfml.training.saving import atomic_write, save_model, save_weights, sha256, write_text
