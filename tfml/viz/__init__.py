"""Figures, 2-D projections and TensorBoard projector exports."""

from tfml.viz.figures import (
    confident_predictions,
    distance_heatmap,
    grouped_bars,
    highlight_grid,
    image_rows,
    image_table,
    line_plot,
    loss_curves,
    matrix_heatmap,
    model_diagram,
    neighbour_grid,
    pairplot,
    rank_histograms,
    scatter_2d,
    scatter_xy,
    texts_beside_images,
)
from tfml.viz.projection import METHODS as PROJECTIONS
from tfml.viz.projection import project_2d
from tfml.viz.projector import write_projector
