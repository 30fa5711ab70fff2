// The lab's report and its files: schema, tables, chart data, the self-contained HTML, and the runs file.
export { reportSchema, parseReport, ReportFormatError, type Report } from './schema'; // report JSON, validated on import
export { reportTables, tableCsv, num, type ReportTable } from './tables'; // every table once: page, HTML and CSV
export { lossSeries, evalSeries, evalSeriesByTask, neuronMapRows, volcanoData, layerBars, probeBars, steerBars, consistencyBars, crossSteerBars } from './figures'; // chart data
export { buildReportHtml, collectChartsHtml, reportSummary, jsonForScript, escapeHtml } from './html'; // one-file HTML report
export { exportRuns, importRuns, encodeRunsFile, decodeRunsFile, RunsFileError, RUNS_FILE_MAGIC, type RunEntry } from './runs-file'; // runs + artifacts as one file
