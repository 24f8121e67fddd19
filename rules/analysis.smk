# How far the metrics can be trusted: reliability and agreement tables from the score tables, and
# the sparsity study (first paper, section 4). Light rules (pandas, scipy): they run inside
# Snakemake's process. Outputs: results/{dataset}/tables/.


rule internal_consistency:
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/tables/internal_consistency.csv",
            caption="../workflow/report/internal_consistency.rst",
            category="Reliability",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/internal_consistency.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("internal_consistency", input, output, params, log)


rule inter_method:
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/tables/inter_method.csv",
            caption="../workflow/report/inter_method.rst",
            category="Reliability",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
        primary=config["analysis"]["primary"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/inter_method.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("inter_method", input, output, params, log)


rule binarized_average_drop:
    input:
        "results/{dataset}/scores.parquet",
    output:
        scores=report(
            "results/{dataset}/tables/average_drop_binarized.csv",
            caption="../workflow/report/average_drop_binarized.rst",
            category="Reliability",
        ),
        corr=report(
            "results/{dataset}/tables/average_drop_binarized_corr.csv",
            caption="../workflow/report/average_drop_binarized.rst",
            category="Reliability",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
        primary=config["analysis"]["primary"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/binarized_average_drop.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("binarized_average_drop", input, output, params, log)


rule rankings:
    input:
        "results/{dataset}/scores.parquet",
    output:
        rankings=report(
            "results/{dataset}/tables/rankings.csv",
            caption="../workflow/report/rankings.rst",
            category="Reliability",
        ),
        agreement=report(
            "results/{dataset}/tables/agreement.csv",
            caption="../workflow/report/agreement.rst",
            category="Reliability",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
        primary=config["analysis"]["primary"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/rankings.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("rankings", input, output, params, log)


rule blur_study:
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/tables/blur_study.csv",
            caption="../workflow/report/blur_study.rst",
            category="Sparsity",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/blur_study.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("blur_study", input, output, params, log)


rule sparsity:
    input:
        sparsity_saliency,
    output:
        kde=report(
            "results/{dataset}/tables/relevance_kde.csv",
            caption="../workflow/report/relevance_kde.rst",
            category="Sparsity",
        ),
        stats=report(
            "results/{dataset}/tables/sparsity.csv",
            caption="../workflow/report/sparsity.rst",
            category="Sparsity",
        ),
    params:
        points=config["analysis"]["kde_points"],
        max_values=config["analysis"]["kde_max_values"],
        seed=config["seed"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/sparsity.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("sparsity", input, output, params, log)


rule mean_curves:
    input:
        mean_curve_inputs,
    output:
        "results/{dataset}/tables/mean_curves.csv",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/mean_curves.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("mean_curves", input, output, params, log)


rule non_robustness_table:
    # the second paper's Table 4: mean non-robustness per model and explainer
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/tables/non_robustness.csv",
            caption="../workflow/report/non_robustness.rst",
            category="Objectiveness",
        ),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/non_robustness_table.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("non_robustness_table", input, output, params, log)


rule shapley_bias_table:
    # the second paper's Figure 3 as numbers, with whether each explainer's maps are signed
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/tables/shapley_bias.csv",
            caption="../workflow/report/shapley_bias_table.rst",
            category="Objectiveness",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/shapley_bias_table.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("shapley_bias_table", input, output, params, log)
