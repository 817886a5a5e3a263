//! Validation of a forecast's extra inputs and outputs: lagged copies of
//! the target (`data.lags`), calendar features (`data.time_column`,
//! `data.calendar`), known-future columns (`data.future_columns`),
//! residual targets (`task.residual`) and prediction intervals
//! (`task.quantiles`, `task.distribution`).

use super::spec::*;
use super::validate::{Invalid, invalid};

/// Every check of this module, in order.
pub(super) fn validate(exp: &Experiment) -> Result<(), Invalid> {
    validate_lags(exp)?;
    validate_calendar(exp)?;
    validate_future(exp)?;
    validate_series(exp)?;
    validate_residual(exp)?;
    validate_intervals(exp)?;
    validate_calibration(exp)?;
    validate_end_row(exp)?;
    validate_retrain(exp)
}

/// `data.end_row`: a cut of a CSV series, of at least one row.
fn validate_end_row(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    let Some(end) = d.end_row else {
        return Ok(());
    };
    if !(d.source == Source::Csv && d.layout == Layout::Series) {
        return Err(invalid(
            "data.end_row",
            "`end_row` cuts a CSV series (layout = \"series\"); other data has no rows in time order",
            "remove data.end_row",
        ));
    }
    if end == 0 {
        return Err(invalid(
            "data.end_row",
            "must be at least 1 (got 0): the rows before it are the whole data",
            "give the number of rows to read, or remove data.end_row to read them all",
        ));
    }
    Ok(())
}

/// `evaluate.retrain`: a rolling-origin backtest needs a forecast of one
/// CSV series with a test part, whose origins the retrained runs are cut at.
fn validate_retrain(exp: &Experiment) -> Result<(), Invalid> {
    if !exp.evaluate.retrain {
        return Ok(());
    }
    let d = &exp.data;
    let one_series = d.source == Source::Csv
        && d.layout == Layout::Series
        && exp.task.kind == TaskKind::Forecast
        && d.series_column.is_none();
    if !one_series {
        return Err(invalid(
            "evaluate.retrain",
            "the retrained backtest forecasts one CSV series (layout = \"series\", kind = \"forecast\", no data.series_column) from origins in its test part",
            "remove evaluate.retrain",
        ));
    }
    if d.split[2] <= 0.0 {
        return Err(invalid(
            "evaluate.retrain",
            "the backtest's origins lie in the test part, and data.split gives it no rows",
            "give the test part a share, e.g. data.split = [0.7, 0.15, 0.15]",
        ));
    }
    Ok(())
}

/// `task.calibration`: intervals to calibrate, and a validation part to
/// calibrate them on.
fn validate_calibration(exp: &Experiment) -> Result<(), Invalid> {
    if exp.task.calibration == Calibration::None {
        return Ok(());
    }
    if exp.levels().is_empty() {
        return Err(invalid(
            "task.calibration",
            "conformal calibration adjusts prediction intervals, and this experiment forecasts none",
            "add task.quantiles = [0.1, 0.5, 0.9] or task.distribution = \"gaussian\", or remove task.calibration",
        ));
    }
    if exp.data.split[1] <= 0.0 {
        return Err(invalid(
            "task.calibration",
            "the offsets are fitted on the validation part, and data.split gives it no share",
            "give data.split a validation share, e.g. split = [0.6, 0.2, 0.2]",
        ));
    }
    Ok(())
}

/// `data.lags`: forecasts of a CSV series only, distinct, at least 1, and
/// never with the iterative strategy (which feeds predictions back as the
/// only input).
fn validate_lags(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    if d.lags.is_empty() {
        return Ok(());
    }
    if !(d.source == Source::Csv
        && d.layout == Layout::Series
        && exp.task.kind == TaskKind::Forecast)
    {
        return Err(invalid(
            "data.lags",
            "lagged copies of the target apply to forecasts of a CSV series (layout = \"series\") only",
            "remove data.lags",
        ));
    }
    if exp.task.strategy == Strategy::Iterative {
        return Err(invalid(
            "data.lags",
            "the iterative strategy feeds each prediction back as the only input, so it cannot take lagged inputs",
            "use strategy = \"vector\" or \"seq2seq\", or remove data.lags",
        ));
    }
    for (i, &lag) in d.lags.iter().enumerate() {
        if lag == 0 {
            return Err(invalid(
                "data.lags",
                format!(
                    "lag {} is 0: the target itself, which the model must not see",
                    i + 1
                ),
                "use lags of 1 step or more",
            ));
        }
        if d.lags[..i].contains(&lag) {
            return Err(invalid(
                "data.lags",
                format!("{lag} is listed twice"),
                "list each lag once",
            ));
        }
    }
    Ok(())
}

/// `data.time_column` and `data.calendar`: a CSV series only; calendar
/// features need the time column, which is not an input column itself.
fn validate_calendar(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    let series = d.source == Source::Csv && d.layout == Layout::Series;
    if let Some(time) = &d.time_column {
        if !series {
            return Err(invalid(
                "data.time_column",
                "a time column applies to a CSV series (layout = \"series\") only",
                "remove data.time_column",
            ));
        }
        if d.columns.contains(time) {
            return Err(invalid(
                "data.time_column",
                format!("`{time}` is also in data.columns; timestamps are not numbers to read"),
                "remove it from data.columns (data.calendar derives inputs from it)",
            ));
        }
    }
    if d.calendar.is_empty() {
        return Ok(());
    }
    if d.time_column.is_none() {
        return Err(invalid(
            "data.calendar",
            "calendar features are derived from a timestamp column, and data.time_column names none",
            "set data.time_column = \"…\" (the column of timestamps)",
        ));
    }
    if d.transform != Transform::None {
        return Err(invalid(
            "data.calendar",
            "data.transform applies to every input column, and a sine or cosine has no logarithm",
            "remove data.transform, or the calendar features",
        ));
    }
    if exp.task.strategy == Strategy::Iterative {
        return Err(invalid(
            "data.calendar",
            "the iterative strategy feeds each prediction back as the only input, so it cannot take calendar inputs",
            "use strategy = \"vector\" or \"seq2seq\"",
        ));
    }
    for (i, c) in d.calendar.iter().enumerate() {
        if d.calendar[..i].contains(c) {
            return Err(invalid(
                "data.calendar",
                format!("`{}` is listed twice", c.name()),
                "list each feature once",
            ));
        }
    }
    Ok(())
}

/// `data.future_columns`: forecasts of a CSV series with the one-step,
/// vector or seq2seq strategy; never the target (its future is what is
/// forecast) nor the time column.
fn validate_future(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    if d.future_columns.is_empty() {
        return Ok(());
    }
    if !(d.source == Source::Csv
        && d.layout == Layout::Series
        && exp.task.kind == TaskKind::Forecast)
    {
        return Err(invalid(
            "data.future_columns",
            "known-future columns apply to forecasts of a CSV series (layout = \"series\") only",
            "remove data.future_columns",
        ));
    }
    if exp.task.strategy == Strategy::Iterative {
        return Err(invalid(
            "data.future_columns",
            "the iterative strategy feeds each prediction back as the only input, one step at a time, so it cannot take known-future inputs",
            "use strategy = \"vector\" or \"seq2seq\"",
        ));
    }
    let target = d.target.as_ref().or(d.columns.first());
    for (i, c) in d.future_columns.iter().enumerate() {
        if Some(c) == target {
            return Err(invalid(
                "data.future_columns",
                format!(
                    "`{c}` is the target: its values over the horizon are what is forecast, not known"
                ),
                "remove it from data.future_columns (data.lags gives the target's known past)",
            ));
        }
        if d.time_column.as_ref() == Some(c) {
            return Err(invalid(
                "data.future_columns",
                format!("`{c}` is the time column; timestamps are not numbers to read"),
                "remove it (data.calendar derives inputs from it)",
            ));
        }
        if d.future_columns[..i].contains(c) {
            return Err(invalid(
                "data.future_columns",
                format!("`{c}` is listed twice"),
                "list each column once",
            ));
        }
    }
    Ok(())
}

/// `data.series_column`: forecasts of a CSV series; a column of names, not
/// an input, the target or the time column.
fn validate_series(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    let Some(col) = &d.series_column else {
        return Ok(());
    };
    if !(d.source == Source::Csv
        && d.layout == Layout::Series
        && exp.task.kind == TaskKind::Forecast)
    {
        return Err(invalid(
            "data.series_column",
            "a series column applies to forecasts of CSV series (layout = \"series\") only",
            "remove data.series_column",
        ));
    }
    let clash = if d.columns.contains(col) || d.future_columns.contains(col) {
        Some("an input column")
    } else if d.target.as_ref() == Some(col) {
        Some("the target")
    } else if d.time_column.as_ref() == Some(col) {
        Some("the time column")
    } else {
        None
    };
    if let Some(what) = clash {
        return Err(invalid(
            "data.series_column",
            format!(
                "`{col}` is also {what}; the series column only names which series a row belongs to"
            ),
            "name the column of series names, and leave it out of the other keys",
        ));
    }
    Ok(())
}

/// `task.residual`: forecasts of one-step or vector strategy whose target
/// is an input (the window must hold the baseline's forecast), and a
/// season for the seasonal one.
fn validate_residual(exp: &Experiment) -> Result<(), Invalid> {
    if exp.task.residual == Residual::None {
        return Ok(());
    }
    if exp.task.kind != TaskKind::Forecast
        || !matches!(exp.task.strategy, Strategy::OneStep | Strategy::Vector)
    {
        return Err(invalid(
            "task.residual",
            "a residual target applies to forecasts with the one-step or vector strategy",
            "remove task.residual, or use strategy = \"vector\"",
        ));
    }
    if exp.target_input().is_none() {
        return Err(invalid(
            "task.residual",
            "the baseline's forecast is read from the target in the input window, but the target is not an input column",
            "add the target to data.columns",
        ));
    }
    if exp.task.residual == Residual::SeasonalNaive && exp.data.season == 0 {
        return Err(invalid(
            "task.residual",
            "\"seasonal_naive\" needs data.season",
            "set data.season, or use residual = \"naive\"",
        ));
    }
    Ok(())
}

/// `task.quantiles` and `task.distribution`: one or the other, for
/// forecasts whose head predicts the whole horizon from the last step
/// (one-step, vector) or each step of the decoder (encoder–decoder); quantile levels in (0, 1), strictly increasing, with
/// the median (the point forecast) among them.
fn validate_intervals(exp: &Experiment) -> Result<(), Invalid> {
    let t = &exp.task;
    let key = match (t.quantiles.is_empty(), t.distribution) {
        (true, None) => return Ok(()),
        (false, Some(_)) => {
            return Err(invalid(
                "task.distribution",
                "task.quantiles and task.distribution both say how the forecast's uncertainty is modelled; give one",
                "remove task.distribution (a head per quantile, pinball loss) or task.quantiles (a Gaussian's mean and scale)",
            ));
        }
        (false, None) => "task.quantiles",
        (true, Some(_)) => "task.distribution",
    };
    if t.kind != TaskKind::Forecast {
        return Err(invalid(
            key,
            "prediction intervals apply to forecasts (kind = \"forecast\")",
            "remove it",
        ));
    }
    match t.strategy {
        Strategy::OneStep | Strategy::Vector | Strategy::Seq2seq | Strategy::EncoderDecoder => {}
        Strategy::Iterative => {
            return Err(invalid(
                key,
                "the iterative strategy feeds each point prediction back as the next input; quantiles of a forecast several steps ahead cannot be had by feeding quantiles back (they need sampled paths)",
                "use strategy = \"vector\" (a head per quantile for every step of the horizon)",
            ));
        }
    }
    for (i, &q) in t.quantiles.iter().enumerate() {
        if !(q > 0.0 && q < 1.0) {
            return Err(invalid(
                "task.quantiles",
                format!(
                    "level {} is {q}; a quantile level lies strictly between 0 and 1",
                    i + 1
                ),
                "e.g. quantiles = [0.1, 0.5, 0.9]",
            ));
        }
        if i > 0 && q <= t.quantiles[i - 1] {
            return Err(invalid(
                "task.quantiles",
                format!(
                    "levels must be strictly increasing ({} then {q})",
                    t.quantiles[i - 1]
                ),
                "list each level once, in ascending order",
            ));
        }
    }
    if !t.quantiles.is_empty() && !t.quantiles.contains(&0.5) {
        return Err(invalid(
            "task.quantiles",
            "the point forecast (RMSE, MAE, MASE, predict's y columns) is the median, and 0.5 is not among the levels",
            "add 0.5, e.g. quantiles = [0.1, 0.5, 0.9]",
        ));
    }
    Ok(())
}
