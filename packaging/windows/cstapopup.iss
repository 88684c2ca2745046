; Inno Setup 6 script for cstapopup on Windows: per-user install (no administrator rights),
; Start menu entry, optional start at login, uninstaller.
;
; Build on Windows, from the repository root:
;     py packaging\build.py --onedir            (makes dist\cstapopup\cstapopup.exe)
;     iscc /DAppVersion=0.1.0 packaging\windows\cstapopup.iss
; Output: dist\cstapopup-<version>-windows-x86_64-setup.exe
;
; Written from the Inno Setup 6 documentation; NOT built or run here (no Windows machine).
;
; Start at login is the HKCU Run value "cstapopup", the very value the app's settings switch
; writes (cstapopup/autostart.py: WINDOWS_RUN_KEY, WINDOWS_VALUE_NAME), so the installer's
; checkbox and the settings agree, and the uninstaller removes it whichever side wrote it.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "cstapopup"
#define AppExe "cstapopup.exe"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define RunValue "cstapopup"

[Setup]
; The AppId identifies the installation for upgrades and the uninstaller: never change it.
AppId={{DF8D5FDF-1E0D-4154-A91B-B390D8BE2C4B}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=cstapopup contributors
AppComments=Call popup and call history for Siemens HiPath / OpenScape PBXs (CSTA)
; Per user: no UAC prompt, and HKCU is the user's own registry hive.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6 needs Windows 10 1809 or later.
MinVersion=10.0.17763
SourceDir=..\..
OutputDir=dist
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x86_64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; A running cstapopup holds its files open: ask it to close (Restart Manager) before
; replacing or removing them.
CloseApplications=yes
RestartApplications=no
#if FileExists("..\..\resources\icons\app.ico")
SetupIconFile=resources\icons\app.ico
#endif

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "de"; MessagesFile: "compiler:Languages\German.isl"

[CustomMessages]
en.AutostartTask=Start {#AppName} when I log in
de.AutostartTask={#AppName} bei der Anmeldung starten
en.AutostartGroup=Start:
de.AutostartGroup=Start:

[Tasks]
Name: "autostart"; Description: "{cm:AutostartTask}"; GroupDescription: "{cm:AutostartGroup}"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The one-folder app as packaging/build.py leaves it (cstapopup.exe, cstapopup-cli.exe,
; _internal\...).
Source: "dist\cstapopup\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the bundle whole: files a newer PyInstaller no longer ships must not
; linger and be loaded.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Call popup and call history"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; The value the settings switch reads and writes: the quoted path of the executable.
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValue}"; ValueData: """{app}\{#AppExe}"""; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the installer put there; settings (%APPDATA%\cstapopup) and the call history
; (%LOCALAPPDATA%\cstapopup) belong to the user and stay.
Type: filesandordirs; Name: "{app}\_internal"

[Code]
{ Start at login may also have been switched on in the app's settings, after installation:
  remove the Run value on uninstall whoever wrote it, but only when it points at this
  installation. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Value: String;
begin
  if CurUninstallStep = usUninstall then
  begin
    if RegQueryStringValue(HKCU, '{#RunKey}', '{#RunValue}', Value) then
      if Pos(Lowercase(ExpandConstant('{app}')), Lowercase(Value)) > 0 then
        RegDeleteValue(HKCU, '{#RunKey}', '{#RunValue}');
  end;
end;
