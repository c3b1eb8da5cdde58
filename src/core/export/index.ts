/**
 * src/core/export owns `netmon metrics export` (issue 9, docs/EXPORT.md): the dataset registry
 * (registry.ts, datasets/), the paging engine (engine.ts), the CSV/JSON/NDJSON writers
 * (writers.ts, csv.ts, excel.ts) and the atomic output (sink.ts).
 */
export {planExport, runExport, readPages, pageQuery, countQuery, DEFAULT_PAGE_SIZE, type ExportRequest, type ExportPlan, type ExportSummary} from './engine.js'
export {DATASETS, findDataset, datasetNames, describeDatasets, describeDataset, checkDataset, type DatasetInfo} from './registry.js'
export {excelSafe, undoExcelSafe} from './excel.js'
export {outputColumns, createWriter} from './writers.js'
export {FORMATS, RESOLUTIONS, type Dataset, type ExportFormat, type Resolution, type ColumnDef, type OutputColumn} from './types.js'
