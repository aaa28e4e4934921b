<?php
declare(strict_types=1);

namespace Bench;

abstract class Controller
{
    public function __construct(protected Container $container)
    {
    }

    protected function render(string $title, string $content, array $crumbs): string
    {
        /** @var Layout $layout */
        $layout = $this->container->get(Layout::class);
        return $layout->render($title, $content, $crumbs);
    }
}
