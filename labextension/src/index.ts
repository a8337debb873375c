/**
 * sqlflow-magic for JupyterLab 4 (issue 5): SQL highlighting of `%%sqlflow` cells and the
 * "SQLFlow" side panel. The magic never depends on this extension.
 */

import { ICommandPalette } from '@jupyterlab/apputils';
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker } from '@jupyterlab/notebook';

import { sqlflowDecorations, syncSqlMode } from './highlight';
import { SqlflowPanel } from './sidebar';

const highlightPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sqlflow-magic:highlight',
  description: 'Highlights %%sqlflow cells as SQL, with the transform header and macros marked.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (_app: JupyterFrontEnd, registry: IEditorExtensionRegistry): void => {
    registry.addExtension({
      name: 'sqlflow-magic:sql-mode',
      // Called once per editor; a null extension is allowed. Only inline editors (cells,
      // consoles): a file editor's language follows its file name.
      factory: ({ model, inline }) => {
        if (inline) syncSqlMode(model);
        return null;
      }
    });
    registry.addExtension({
      name: 'sqlflow-magic:decorations',
      factory: ({ inline }) =>
        inline ? EditorExtensionRegistry.createImmutableExtension(sqlflowDecorations) : null
    });
  }
};

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sqlflow-magic:sidebar',
  description: 'A side panel with the transforms, watermarks and runs of the active kernel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const panel = new SqlflowPanel(tracker);
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);
    app.commands.addCommand('sqlflow-magic:show-panel', {
      label: 'Show SQLFlow Panel',
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand('sqlflow-magic:refresh-panel', {
      label: 'Refresh SQLFlow Panel',
      execute: () => panel.refresh()
    });
    for (const command of ['sqlflow-magic:show-panel', 'sqlflow-magic:refresh-panel']) {
      palette?.addItem({ command, category: 'SQLFlow' });
    }
  }
};

export default [highlightPlugin, sidebarPlugin];
