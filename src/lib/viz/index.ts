// Charts for the lab pages: plain arrays in, Svelte + d3 out (see STYLE.md, charts).
export { default as LineChart } from './line/LineChart.svelte'; // multi-series lines, log-y, live updates
export { default as LabelShares } from './shares/LabelShares.svelte'; // mem/gen/other over steps
export { default as BarChart } from './bar/BarChart.svelte'; // grouped bars, error bars, reference line
export { default as Heatmap } from './heatmap/Heatmap.canvas.svelte'; // layer x neuron map on canvas
export { default as Volcano } from './volcano/Volcano.svelte'; // NMD vs |r| scatter on canvas
export { default as Histogram } from './histogram/Histogram.svelte'; // two distributions on shared bins
export { default as DataTable } from './table/DataTable.svelte'; // sortable, searchable, paged table
export { svgToString, downloadSvg, downloadPng, renderPng, downloadText, downloadBlob, canvasLayers } from './export'; // file export
export type { CanvasLayer } from './export'; // a canvas drawn under an SVG in a PNG
export type { LinePoint, LineSeries, SharesPoint, BarDatum, ReferenceLine, CellRef } from './types'; // chart data shapes
export type { Column, SortDir } from './table/table'; // DataTable column config
export type { LegendItem } from './shared/scales'; // legend entry
export { binColumns, toGrid, binAt } from './heatmap/bin'; // heatmap column binning
export { sharedBins } from './histogram/bins'; // shared histogram bins
export { BEHAVIOR_COLOR, BEHAVIOR_HEX, formatValue, formatPercent, symmetricDomain } from './shared/scales'; // colors, formats
