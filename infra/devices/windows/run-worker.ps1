<#
.SYNOPSIS
  Keeps `dashcam worker workhorse` running on a Windows workhorse (what the scheduled task runs).

.DESCRIPTION
  Maps the Indoor NAS share to the drive letter the env file names (Z: by default) for this
  logon session - drive letters mapped in Explorer belong to another session and a task at
  startup does not see them - then runs the worker, and starts it again 10 s after it exits.
  Task Scheduler's own "restart on failure" only covers a task that fails to start, not a
  program that exits, hence the loop. Output goes to <DataDir>\logs\worker-workhorse.log.
#>
param(
    [string]$InstallDir = "C:\dashcam",
    [string]$EnvFile = "C:\dashcam\workhorse.env",
    [string]$Share = "\\indoor-nas\videos",
    [string]$Drive = "Z:",
    [string]$Device = "workhorse"
)
$ErrorActionPreference = "Continue"
$dashcam = Join-Path $InstallDir ".venv\Scripts\dashcam.exe"
$env:DASHCAM_ENV_FILE = $EnvFile
$logDir = Join-Path $InstallDir "data\logs"
New-Item -ItemType Directory -Force -Path $logDir | Out-Null
$log = Join-Path $logDir "worker-$Device.log"

function Write-Log([string]$message) {
    "$(Get-Date -Format s) $message" | Out-File -FilePath $log -Append -Encoding utf8
}

while ($true) {
    if (-not (Test-Path "$Drive\")) {
        # Credentials for the share: stored once for this account with
        #   cmdkey /add:indoor-nas /user:NAS-USER /pass
        net use $Drive $Share /persistent:no 2>&1 | Out-File -FilePath $log -Append -Encoding utf8
    }
    if (-not (Test-Path "$Drive\")) {
        Write-Log "cannot map $Drive to $Share; retrying in 30 s (check the NAS and cmdkey /list)"
        Start-Sleep -Seconds 30
        continue
    }
    Write-Log "starting: $dashcam worker $Device"
    & $dashcam worker $Device *>> $log
    Write-Log "the worker exited with code $LASTEXITCODE; starting it again in 10 s"
    Start-Sleep -Seconds 10
}
