"""Figures, 2-D projections and the per-run HTML report."""

from tfml.viz.figures import confident_predictions, image_rows, loss_curves, model_diagram, neighbour_grid, pairplot, scatter_2d, training_curves
from tfml.viz.projection import METHODS as PROJECTIONS
from tfml.viz.projection import project_2d
from tfml.viz.report import write_report
from tfml.viz.figures import distance_heatmap
