"""The bank's warehouse (docs/warehouse.md): customer-level tables to the RM x month panel.

Three tables (``customer_month``, ``wecom_contact``, ``quota``) are read where they live and
checked and aggregated there, by one set of Ibis expressions that runs on embedded DuckDB or on
Spark. Only RM-month results come back to Python.

Modules, in the order data flows:

* :mod:`wb.warehouse.tables`: the three tables' columns, keys and groupings;
  :mod:`wb.warehouse.rules`: their rules (Ibis rule expressions, pandera.ibis schemas);
  :mod:`wb.warehouse.patterns`: id values judged by pattern in the engine (personal data).
* :mod:`wb.warehouse.source`: open a source (Parquet folder or Spark catalog) on an engine;
  :mod:`wb.warehouse.spark`: the Spark sessions wb starts or connects to.
* :mod:`wb.warehouse.validate`: run the rules in the engine; exit 2 with counts and keys.
* :mod:`wb.warehouse.build`: the panel and add-quality expressions; the atomic build folder.
* :mod:`wb.warehouse.simulate`: a customer-level source with known truth;
  :mod:`wb.warehouse.simulate_truth`: that truth (``truth.json``, every file's stamp).
* :mod:`wb.warehouse.uplift`: the customer-level event study, run end to end;
  :mod:`wb.warehouse.uplift_cells`: its bindings and cells, summed in the engine;
  :mod:`wb.warehouse.imputation`: its estimator and inference on those cells (numpy);
  :mod:`wb.warehouse.uplift_result`: its result and ``customer_uplift.json``;
  :mod:`wb.warehouse.uplift_finding`: its note and finding in words.
* :mod:`wb.warehouse.progress`: progress of long steps on stderr.

``wb.warehouse`` imports only from the door (:mod:`wb.door.privacy`, :mod:`wb.door.atomic`,
...) and :mod:`wb.errors`.
"""
