// The lab's report and its files: schema, tables, chart data, the self-contained HTML, and the runs file.
export { reportSchema, parseReport, ReportFormatError, type Report } from './schema'; // report JSON, validated on import
export { reportTables, steeringTable, tableCsv, num, type ReportTable } from './tables'; // every table once: page, HTML and CSV
export { lossSeries, evalSeries, evalSeriesByTask, neuronMapRows, volcanoData, layerBars, probeBars, steerBars, steerDiffBars, steeringClaims, steeringSummary, decodeName, CONTROL_NAMES, consistencyBars, crossSteerBars } from './figures'; // chart data
export { buildReportHtml, collectChartsHtml, reportSummary, chosenIsLast, jsonForScript, escapeHtml } from './html'; // one-file HTML report
export { exportRuns, importRuns, encodeRunsFile, decodeRunsFile, RunsFileError, RUNS_FILE_MAGIC, type RunEntry } from './runs-file'; // runs + artifacts as one file
